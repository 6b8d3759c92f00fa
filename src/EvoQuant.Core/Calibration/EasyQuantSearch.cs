using EvoQuant.Data;
using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Quantization;
using EvoQuant.Quantization.Provenance;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Calibration;

/// <summary>EasyQuant's scale search (Wu et al. 2020) over the activation ranges of a table and the weights of the
/// layers that read them. Layer by layer in graph order, for each input activation of layers with weights (Conv,
/// MatMul, Gemm... as the plan declares them), the model is quantized with the scales chosen so far
/// (<see cref="ModelQuantizer"/>, so its predecessors are the quantized ones, as ONNX Runtime runs them), and the
/// input's scale and the layers' stored weights (codes and scales) are made graph inputs of one session, so every
/// candidate is scored without building another: the mean cosine similarity, over the kept sample rows, between
/// the layer outputs of that model and of the float model. The search alternates as the paper does: the input's
/// scale (the base scale times <see cref="Factors"/>), then each layer's weight scales (times
/// <see cref="WeightFactors"/>, the codes the quantizer writes for them), then the input's again, for at most
/// <see cref="Rounds"/> rounds; each step keeps its current value on a tie, so the cosine never falls. Scaling a
/// range that holds 0 scales its scale and keeps its zero point, so the chosen range gives the quantizer exactly the
/// scale that was scored; a weight's factor reaches the quantizer as <see cref="TensorOverride.ScaleFactor"/>.</summary>
/// <remarks>Weights are searched when stored as 8-bit codes with float scales, each once, with the first tensor
/// whose layers read it. Memory: the kept rows (<see cref="SearchSamples"/>), bound to ONNX Runtime once; one
/// tensor's float layer outputs over them, held as ONNX Runtime returned them; one candidate's weights; and one
/// run's tensors. Candidate outputs are scored where ONNX Runtime wrote them (no copies per candidate).</remarks>
public static class EasyQuantSearch
{
    /// <summary>Candidate factors of the base scale (0.5 to 1.2 by 0.05; 1 first, so ties keep the base).</summary>
    public static IReadOnlyList<float> Factors { get; } = Grid(10, 24);

    /// <summary>Candidate factors of a weight's scales (0.7 to 1.1 by 0.05; 1 first): max-abs scales clip nothing,
    /// so a smaller factor trades the largest weights for a finer grid.</summary>
    public static IReadOnlyList<float> WeightFactors { get; } = Grid(14, 22);

    /// <summary>Alternations after the first input search (the weights, then the input again); fewer when a step changes nothing.</summary>
    public const int Rounds = 2;

    private static float[] Grid(int from, int to) =>
        new[] { 1f }.Concat(Enumerable.Range(from, to - from + 1).Select(k => k * 0.05f).Where(f => Math.Abs(f - 1f) > 1e-6f)).ToArray();

    /// <summary>The ranges of <paramref name="baseRanges"/> with the searched ones replaced (their
    /// <see cref="TensorRange.Search"/> says what was chosen, weights included); rows the search does not reach are returned as they are.</summary>
    /// <param name="model">The float model.</param>
    /// <param name="baseRanges">The ranges to start from (EQ's base method's: MinMax's by default).</param>
    /// <param name="batches">The sample rows to score on, bound to the model's inputs.</param>
    /// <param name="quantization">The options the model will be quantized with (their ranges are replaced; their
    /// TensorOverrides win over the searched weight factors, as in <see cref="QuantizationOptions.WithWeightScaleFactors"/>).</param>
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
        var weightFactors = new Dictionary<string, float>(StringComparer.Ordinal);
        QuantizationResult Quantize(IReadOnlyDictionary<string, float>? trial = null)
        {
            var factors = new Dictionary<string, float>(weightFactors, StringComparer.Ordinal);
            if (trial != null) foreach (var (w, f) in trial) factors[w] = f;
            var options = quantization.WithWeightScaleFactors(factors) with
            {
                ActivationRanges = current.Values.ToDictionary(r => r.Tensor, r => new ActivationRange(r.RangeMin, r.RangeMax), StringComparer.Ordinal),
            };
            return ModelQuantizer.Quantize(model, options, registry, null, cancellationToken);
        }

        // The graph the quantizer plans on (a Conv that absorbed its BatchNormalization writes the normalization's
        // output, which the float model computes too): its layers and weight names are the provenance's.
        var planned = quantization.FoldBatchNormalization ? BatchNormFolding.FoldPairs(model, current.ContainsKey).Model : model;
        using var feed = new Feed(batches);
        QuantizationResult? latest = Quantize();
        foreach (var (tensor, layers) in SearchOrder(planned, latest.Provenance!, current))
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Quantized again with the scales chosen so far (none changed yet for the first tensor).
            var q = latest ?? Quantize();
            latest = null;
            var chosen = Search(model, q, tensor, layers, feed, Quantize, intraOpThreads, cancellationToken);
            if (chosen == null || (chosen.Factor == 1f && chosen.Weights.All(w => w.Factor == 1f))) latest = q; // nothing changed: the next tensor reuses it
            if (chosen == null) continue;
            foreach (var w in chosen.Weights.Where(w => w.Factor != 1f)) weightFactors[w.Weight] = w.Factor;
            var b = current[tensor];
            current[tensor] = b with
            {
                Method = CalibrationMethod.EQ, RangeMin = b.RangeMin * chosen.Factor, RangeMax = b.RangeMax * chosen.Factor,
                Search = chosen with { Base = b.Method },
            };
        }
        return current.Values.OrderBy(r => r.Tensor, StringComparer.Ordinal).ToList();
    }

    // One layer that reads a searched tensor: the output compared and the weights searched with it.
    private sealed record Layer(string Output, List<string> Weights);

    // Range owners (the tensor whose range sets the quantization parameters) read by layers with weights, in the
    // order of their first such layer, each with the layers that read it; each weight goes with its first layer.
    private static List<(string Tensor, List<Layer> Layers)> SearchOrder(OnnxModel planned, QuantizationProvenance provenance, Dictionary<string, TensorRange> ranges)
    {
        var order = new List<(string, List<Layer>)>();
        var at = new Dictionary<string, int>(StringComparer.Ordinal);
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in planned.Graph.Nodes)
        {
            var weights = node.Input.Distinct().Where(i => provenance.Tensors.TryGetValue(i, out var t) && t.Kind == ProvenanceKind.Weight).ToList();
            if (weights.Count == 0 || node.Output.Count == 0) continue;
            foreach (string input in node.Input.Distinct())
            {
                if (!provenance.Tensors.TryGetValue(input, out var t) || t.Kind != ProvenanceKind.Activation || t.Scale == null) continue;
                string owner = t.SharedWith ?? input;
                if (!ranges.ContainsKey(owner)) continue;
                if (!at.TryGetValue(owner, out int k)) { at[owner] = k = order.Count; order.Add((owner, new List<Layer>())); }
                if (order[k].Item2.Any(l => l.Output == node.Output[0])) continue;
                order[k].Item2.Add(new Layer(node.Output[0], weights.Where(claimed.Add).ToList()));
            }
        }
        return order;
    }

    private static ScaleSearch? Search(OnnxModel model, QuantizationResult q, string tensor, List<Layer> layers, Feed feed,
        Func<IReadOnlyDictionary<string, float>, QuantizationResult> quantize, int intraOpThreads, CancellationToken ct)
    {
        var prov = q.Provenance!;
        if (!prov.Tensors.TryGetValue(tensor, out var tp) || tp.Scale == null) return null;
        var scaleInit = Initializer(q.Model, tp.Scale);
        if (scaleInit == null || scaleInit.DataType != ElementTypes.Float || scaleInit.Dims.Aggregate(1L, (a, d) => a * d) != 1) return null;
        float baseScale = q.Model.GetFloats(scaleInit)[0];
        if (!(baseScale > 0)) return null;
        var outputs = layers.Select(l => l.Output).ToList();
        var qOutputs = outputs.Select(prov.OutputNameOf).ToList();
        // The weights fed as codes and scales: 8-bit codes, float scales, not folded into another initializer.
        var weights = layers.Select(l => l.Weights.Where(w => Stored(q, w) != null).ToList()).ToList();
        var fed = weights.SelectMany(w => w).SelectMany(w => { var s = Stored(q, w)!.Value; return new[] { s.Codes, s.Scale }; }).ToList();

        using var floatSession = Open(WithInputs(model, Array.Empty<string>(), outputs), intraOpThreads);
        using var probe = Open(WithInputs(q.Model, fed.Prepend(scaleInit.Name), qOutputs), intraOpThreads);
        using var runOptions = new RunOptions();
        using var cancel = ct.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var scale = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, scaleInit.Dims.ToArray());
        // The weights' current codes and scales by initializer name, replaced by each candidate's.
        var weightValues = new Dictionary<string, OrtValue>(StringComparer.Ordinal);
        // The float layer outputs of the kept rows, as ONNX Runtime returned them: one tensor's, held while its candidates are scored.
        var reference = new List<IDisposableReadOnlyCollection<OrtValue>>();
        try
        {
            foreach (var name in fed) weightValues[name] = StoredValue(q.Model, Initializer(q.Model, name)!);
            for (int k = 0; k < feed.Count; k++) reference.Add(floatSession.Run(runOptions, feed.Names(k), feed.Values(k), outputs));

            // Each layer's mean cosine with the input scale and the weights as they are fed now.
            double[] Score(float factor)
            {
                ct.ThrowIfCancellationRequested();
                scale.GetTensorMutableDataAsSpan<float>()[0] = baseScale * factor;
                var sums = new double[layers.Count];
                var rows = new long[layers.Count];
                var names = new List<string>(fed.Count + 1) { scaleInit.Name };
                names.AddRange(fed);
                var values = new List<OrtValue>(fed.Count + 1) { scale };
                values.AddRange(fed.Select(n => weightValues[n]));
                for (int k = 0; k < feed.Count; k++)
                {
                    using var got = probe.Run(runOptions, feed.Names(k).Concat(names).ToList(), feed.Values(k).Concat(values).ToList(), qOutputs);
                    for (int o = 0; o < layers.Count; o++)
                    {
                        var r = reference[k][o].GetTensorDataAsSpan<float>();
                        var c = got[o].GetTensorDataAsSpan<float>();
                        var shape = reference[k][o].GetTensorTypeAndShape().Shape;
                        int n = shape.Length == 0 ? 1 : (int)shape[0], size = n == 0 ? 0 : r.Length / n;
                        for (int row = 0; row < n; row++)
                            sums[o] += ErrorMetrics.CosineSimilarity(r.Slice(row * size, size), c.Slice(row * size, size));
                        rows[o] += n;
                    }
                }
                return sums.Select((s, o) => rows[o] == 0 ? 0 : s / rows[o]).ToArray();
            }

            // The input's factor with the weights fixed: the current one first, so a tie keeps it.
            (float, double[]) SearchInput(float factor, double[]? atFactor)
            {
                var best = atFactor ?? Score(factor);
                foreach (float f in Factors.Where(f => f != factor))
                {
                    var s = Score(f);
                    if (s.Average() > best.Average()) { best = s; factor = f; }
                }
                return (factor, best);
            }

            var atBase = Score(1f);
            var (inputFactor, scores) = SearchInput(1f, atBase);
            var layerFactors = layers.Select(_ => 1f).ToArray();
            // Each layer's cosine in the last weight step, at factor 1 and at the chosen factor (same input scale).
            var layerAtOne = new double[layers.Count];
            var layerChosen = new double[layers.Count];
            bool anyWeights = weights.Any(w => w.Count > 0);
            for (int round = 0; round < Rounds && anyWeights; round++)
            {
                // Each layer's weight factor with the input fixed: layers do not read each other's weights, so one
                // candidate factor for all of them scores each layer's independently.
                var best = (double[])scores.Clone();
                var atOne = Enumerable.Range(0, layers.Count).Select(l => layerFactors[l] == 1f ? scores[l] : double.NaN).ToArray();
                var chosen = (float[])layerFactors.Clone();
                var keep = new Dictionary<string, OrtValue>(StringComparer.Ordinal);
                try
                {
                    foreach (float f in WeightFactors)
                    {
                        var trying = Enumerable.Range(0, layers.Count).Where(l => weights[l].Count > 0 && layerFactors[l] != f).ToList();
                        if (trying.Count == 0) continue;
                        var candidate = quantize(trying.SelectMany(l => weights[l]).ToDictionary(w => w, _ => f, StringComparer.Ordinal));
                        var values = new Dictionary<string, OrtValue>(StringComparer.Ordinal);
                        try
                        {
                            foreach (int l in trying)
                                foreach (var w in weights[l])
                                {
                                    var s = Stored(candidate, w) ?? throw new InvalidOperationException($"'{w}' is no longer stored as 8-bit codes.");
                                    var (codes, scales) = Stored(q, w)!.Value;
                                    values[codes] = StoredValue(candidate.Model, Initializer(candidate.Model, s.Codes)!);
                                    values[scales] = StoredValue(candidate.Model, Initializer(candidate.Model, s.Scale)!);
                                }
                            var saved = values.Keys.ToDictionary(n => n, n => weightValues[n], StringComparer.Ordinal);
                            foreach (var (n, v) in values) weightValues[n] = v;
                            var s2 = Score(inputFactor);
                            foreach (var (n, v) in saved) weightValues[n] = v;
                            if (f == 1f) foreach (int l in trying) atOne[l] = s2[l];
                            foreach (int l in trying)
                            {
                                if (!(s2[l] > best[l])) continue;
                                best[l] = s2[l];
                                chosen[l] = f;
                                foreach (var w in weights[l])
                                {
                                    var (codes, scales) = Stored(q, w)!.Value;
                                    foreach (var n in new[] { codes, scales })
                                    {
                                        if (keep.Remove(n, out var old)) old.Dispose();
                                        keep[n] = values[n];
                                        values.Remove(n);
                                    }
                                }
                            }
                        }
                        finally
                        {
                            foreach (var v in values.Values) v.Dispose();
                        }
                    }
                    Array.Copy(atOne, layerAtOne, atOne.Length);
                    Array.Copy(best, layerChosen, best.Length);
                    if (chosen.SequenceEqual(layerFactors)) break;
                    foreach (var (n, v) in keep) { weightValues[n].Dispose(); weightValues[n] = v; }
                    keep.Clear();
                }
                finally
                {
                    foreach (var v in keep.Values) v.Dispose();
                }
                layerFactors = chosen;
                scores = best;
                float before = inputFactor;
                (inputFactor, scores) = SearchInput(inputFactor, scores);
                if (inputFactor == before) break;
            }
            // The caller names the row's base method.
            return new ScaleSearch(CalibrationMethod.MinMax, inputFactor, atBase.Average(), scores.Average(), layers.Count)
            {
                Weights = Enumerable.Range(0, layers.Count)
                    .SelectMany(l => weights[l].Select(w => new WeightScaleChoice(w, layerFactors[l], layerAtOne[l], layerChosen[l]))).ToList(),
            };
        }
        finally
        {
            foreach (var r in reference) r.Dispose();
            foreach (var v in weightValues.Values) v.Dispose();
        }
    }

    // The model's cached view looks initializers up by name (a scan per lookup was quadratic over the search's loops).
    private static TensorProto? Initializer(OnnxModel m, string name) => m.Graph.IsInitializer(name) ? m.Graph.GetConstant(name) : null;

    // A weight stored as 8-bit codes with float scales: the names of both initializers; null otherwise.
    private static (string Codes, string Scale)? Stored(QuantizationResult q, string weight)
    {
        if (!q.Provenance!.Tensors.TryGetValue(weight, out var t) || t.Kind != ProvenanceKind.Weight || t.QuantizedTensor == null || t.Scale == null) return null;
        var codes = Initializer(q.Model, t.QuantizedTensor);
        var scale = Initializer(q.Model, t.Scale);
        if (codes is not { DataType: ElementTypes.Int8 or ElementTypes.UInt8 } || scale is not { DataType: ElementTypes.Float }) return null;
        return (codes.Name, scale.Name);
    }

    // An initializer's bytes in a tensor ONNX Runtime owns (ONNX's and ONNX Runtime's element type numbers agree).
    private static OrtValue StoredValue(OnnxModel m, TensorProto init)
    {
        var bytes = m.GetRawBytes(init);
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, (TensorElementType)init.DataType, init.Dims.ToArray());
        bytes.CopyTo(value.GetTensorMutableRawData());
        return value;
    }

    // A copy whose outputs are only the given tensors and whose given initializers are graph inputs.
    internal static OnnxModel WithInputs(OnnxModel model, IEnumerable<string> inputs, IEnumerable<string> outputs)
    {
        var proto = model.CloneProto();
        var g = proto.Graph;
        foreach (string name in inputs)
        {
            var init = g.Initializer.First(i => i.Name == name);
            g.Initializer.Remove(init);
            if (g.Input.Any(i => i.Name == name)) continue;
            var shape = new TensorShapeProto();
            foreach (long d in init.Dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            g.Input.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = init.DataType, Shape = shape } } });
        }
        g.Output.Clear();
        foreach (string o in outputs) g.Output.Add(new ValueInfoProto { Name = o });
        return model.With(proto);
    }

    internal static InferenceSession Open(OnnxModel m, int intraOpThreads)
    {
        using var options = new SessionOptions();
        if (intraOpThreads > 0) options.IntraOpNumThreads = intraOpThreads;
        using var file = RuntimeModelFile.For(m.ForRuntime());
        return file.Open(options);
    }

    // The kept rows bound to ONNX Runtime once for the whole search (they wrap the rows' arrays: no copies).
    internal sealed class Feed : IDisposable
    {
        private readonly List<(List<string> Names, List<OrtValue> Values)> _batches;

        public Feed(IReadOnlyList<IReadOnlyDictionary<string, NamedTensor>> batches) =>
            _batches = batches.Select(b => (b.Keys.ToList(), b.Keys.Select(n => b[n].ToOrtValue()).ToList())).ToList();

        public int Count => _batches.Count;
        public IReadOnlyList<string> Names(int k) => _batches[k].Names;
        public IReadOnlyList<OrtValue> Values(int k) => _batches[k].Values;

        public void Dispose()
        {
            foreach (var (_, values) in _batches) foreach (var v in values) v.Dispose();
        }
    }
}
