using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;
using Microsoft.ML.OnnxRuntime;

namespace EvoQuant.Calibration;

/// <summary>EasyQuant's scale search (Wu et al. 2020) over the activation ranges of a table. Layer by layer in
/// graph order, for each input activation of a layer with weights (Conv, MatMul, Gemm... as the plan declares
/// them), the model is quantized with the ranges chosen so far (<see cref="ModelQuantizer"/>, so its predecessors
/// are the quantized ones, as ONNX Runtime runs them), the input's scale initializer is made a graph input, and
/// each candidate scale (the base scale times <see cref="Factors"/>, 1 included) is scored by the mean cosine
/// similarity, over the kept sample rows, between the layer outputs of that model and of the float model; the
/// best replaces the range (ties keep the base). Scaling a range that holds 0 scales its scale and keeps its zero
/// point, so the chosen range gives the quantizer exactly the scale that was scored.</summary>
/// <remarks>Activation ranges only: weights stay as the quantizer makes them (max-abs, or ADMM with its option),
/// since the plan takes no per-weight scales; the paper alternates weight and activation scales. Memory: the kept
/// rows (<see cref="SearchSamples"/>), one layer's float outputs over them and one run's tensors.</remarks>
public static class EasyQuantSearch
{
    /// <summary>Candidate factors of the base scale (0.5 to 1.2 by 0.05; 1 first, so ties keep the base).</summary>
    public static IReadOnlyList<float> Factors { get; } =
        new[] { 1f }.Concat(Enumerable.Range(10, 15).Select(k => k * 0.05f).Where(f => Math.Abs(f - 1f) > 1e-6f)).ToArray();

    /// <summary>The ranges of <paramref name="baseRanges"/> with the searched ones replaced (their
    /// <see cref="TensorRange.Search"/> says what was chosen); rows the search does not reach are returned as they are.</summary>
    /// <param name="model">The float model.</param>
    /// <param name="baseRanges">The ranges to start from (EQ's base method's: MinMax's by default).</param>
    /// <param name="batches">The sample rows to score on, bound to the model's inputs.</param>
    /// <param name="quantization">The options the model will be quantized with (their ranges are replaced).</param>
    public static IReadOnlyList<TensorRange> Run(OnnxModel model, IReadOnlyList<TensorRange> baseRanges,
        IReadOnlyList<IReadOnlyDictionary<string, NamedTensor>> batches, QuantizationOptions quantization,
        OpQuantizerRegistry? registry = null, int intraOpThreads = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(baseRanges);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(quantization);
        registry ??= OpQuantizerRegistry.Default;
        var current = baseRanges.ToDictionary(r => r.Tensor, StringComparer.Ordinal);
        if (batches.Count == 0) return baseRanges;
        QuantizationResult Quantize() => ModelQuantizer.Quantize(model,
            quantization with { ActivationRanges = current.Values.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax), StringComparer.Ordinal) },
            registry, null, cancellationToken);

        QuantizationResult? latest = Quantize();
        foreach (var (tensor, layers) in SearchOrder(model, latest.Provenance!, current))
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Quantized again with the ranges chosen so far (none changed yet for the first tensor).
            var q = latest ?? Quantize();
            latest = null;
            var chosen = Search(model, q, tensor, layers, batches, intraOpThreads, cancellationToken);
            if (chosen == null || chosen.Factor == 1f) latest = q; // nothing changed: the next tensor reuses it
            if (chosen == null) continue;
            var b = current[tensor];
            current[tensor] = b with
            {
                Method = CalibrationMethod.EQ, RangeMin = b.RangeMin * chosen.Factor, RangeMax = b.RangeMax * chosen.Factor,
                Search = chosen with { Base = b.Method },
            };
        }
        return current.Values.OrderBy(r => r.Tensor, StringComparer.Ordinal).ToList();
    }

    // Range owners (the tensor whose range sets the quantization parameters) read by layers with weights, in the
    // order of their first such layer, each with the outputs of the layers that read it.
    private static List<(string Tensor, List<string> Outputs)> SearchOrder(OnnxModel model, QuantizationProvenance provenance, Dictionary<string, TensorRange> ranges)
    {
        var order = new List<(string, List<string>)>();
        var at = new Dictionary<string, int>(StringComparer.Ordinal);
        // A Conv that absorbed its BatchNormalization computes the normalization's output (in both models, as
        // ONNX Runtime runs the float one): that is the layer output compared.
        var folded = provenance.Nodes.Values.Where(n => n.Outcome == NodeOutcome.Folded && n.OpType == "BatchNormalization" && n.FoldedInto != null)
            .ToDictionary(n => n.FoldedInto!, n => n.SourceNode, StringComparer.Ordinal);
        foreach (var node in model.Graph.Nodes)
        {
            bool hasWeight = node.Input.Any(i => provenance.Tensors.TryGetValue(i, out var t) && t.Kind == ProvenanceKind.Weight);
            if (!hasWeight || node.Output.Count == 0) continue;
            foreach (string input in node.Input.Distinct())
            {
                if (!provenance.Tensors.TryGetValue(input, out var t) || t.Kind != ProvenanceKind.Activation || t.Scale == null) continue;
                string owner = t.SharedWith ?? input;
                if (!ranges.ContainsKey(owner)) continue;
                if (!at.TryGetValue(owner, out int k)) { at[owner] = k = order.Count; order.Add((owner, new List<string>())); }
                string output = folded.GetValueOrDefault(node.Output[0], node.Output[0]);
                if (!order[k].Item2.Contains(output)) order[k].Item2.Add(output);
            }
        }
        return order;
    }

    private static ScaleSearch? Search(OnnxModel model, QuantizationResult q, string tensor, List<string> outputs,
        IReadOnlyList<IReadOnlyDictionary<string, NamedTensor>> batches, int intraOpThreads, CancellationToken ct)
    {
        var prov = q.Provenance!;
        if (!prov.Tensors.TryGetValue(tensor, out var tp) || tp.Scale == null) return null;
        var scaleInit = q.Model.Proto.Graph.Initializer.FirstOrDefault(i => i.Name == tp.Scale);
        if (scaleInit == null || scaleInit.DataType != ElementTypes.Float || scaleInit.Dims.Aggregate(1L, (a, d) => a * d) != 1) return null;
        float baseScale = q.Model.GetFloats(scaleInit)[0];
        if (!(baseScale > 0)) return null;
        var qOutputs = outputs.Select(prov.OutputNameOf).ToList();

        using var floatSession = Open(WithScaleInput(model, null, outputs), intraOpThreads);
        using var probe = Open(WithScaleInput(q.Model, scaleInit, qOutputs), intraOpThreads);
        using var runOptions = new RunOptions();
        using var cancel = ct.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);

        // The float layer outputs of the kept rows: one layer's, held while its candidates are scored.
        var reference = batches.Select(b => Fetch(floatSession, runOptions, b, outputs, null)).ToList();
        double baseCosine = 0, bestCosine = double.NegativeInfinity;
        float best = 1f;
        foreach (float f in Factors)
        {
            ct.ThrowIfCancellationRequested();
            double sum = 0;
            long n = 0;
            for (int k = 0; k < batches.Count; k++)
            {
                var got = Fetch(probe, runOptions, batches[k], qOutputs, (tp.Scale, baseScale * f, scaleInit.Dims.ToArray()));
                for (int o = 0; o < outputs.Count; o++)
                {
                    var (r, rows) = reference[k][o];
                    var c = got[o].Values;
                    int size = rows == 0 ? 0 : r.Length / rows;
                    for (int row = 0; row < rows; row++, n++)
                        sum += ErrorMetrics.CosineSimilarity(r.AsSpan(row * size, size), c.AsSpan(row * size, size));
                }
            }
            double cosine = n == 0 ? 0 : sum / n;
            if (f == 1f) baseCosine = cosine;
            if (cosine > bestCosine) { bestCosine = cosine; best = f; }
        }
        // The caller names the row's base method.
        return new ScaleSearch(CalibrationMethod.MinMax, best, baseCosine, bestCosine, outputs.Count);
    }

    // A copy whose outputs are only the given tensors and, for the quantized model, whose scale is a graph input.
    private static OnnxModel WithScaleInput(OnnxModel model, TensorProto? scale, IEnumerable<string> outputs)
    {
        var proto = model.CloneProto();
        var g = proto.Graph;
        if (scale != null)
        {
            var init = g.Initializer.First(i => i.Name == scale.Name);
            g.Initializer.Remove(init);
            if (!g.Input.Any(i => i.Name == scale.Name))
            {
                var shape = new TensorShapeProto();
                foreach (long d in scale.Dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
                g.Input.Add(new ValueInfoProto { Name = scale.Name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementTypes.Float, Shape = shape } } });
            }
        }
        g.Output.Clear();
        foreach (string o in outputs) g.Output.Add(new ValueInfoProto { Name = o });
        return model.With(proto);
    }

    private static InferenceSession Open(OnnxModel m, int intraOpThreads)
    {
        using var options = new SessionOptions();
        if (intraOpThreads > 0) options.IntraOpNumThreads = intraOpThreads;
        using var file = RuntimeModelFile.For(m.ForRuntime());
        return file.Open(options);
    }

    // Each fetched tensor as floats with its row count (axis 0; 1 for a scalar).
    private static List<(float[] Values, int Rows)> Fetch(InferenceSession session, RunOptions runOptions, IReadOnlyDictionary<string, NamedTensor> inputs,
        List<string> fetch, (string Name, float Value, long[] Dims)? scale)
    {
        var names = inputs.Keys.ToList();
        var values = names.Select(n => inputs[n].ToOrtValue()).ToList();
        if (scale is var (name, value, dims))
        {
            names.Add(name);
            values.Add(OrtValue.CreateTensorValueFromMemory(new[] { value }, dims));
        }
        try
        {
            using var results = session.Run(runOptions, names, values, fetch);
            return results.Select(r =>
            {
                var shape = r.GetTensorTypeAndShape().Shape;
                return (r.GetTensorDataAsSpan<float>().ToArray(), shape.Length == 0 ? 1 : (int)shape[0]);
            }).ToList();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }
}
