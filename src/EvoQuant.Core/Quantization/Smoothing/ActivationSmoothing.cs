using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>What smoothing did: the float model with the factors applied (computes what the original does),
/// the new ranges of the tensors whose values it changed (to replace calibrated ones), and counts.</summary>
/// <param name="Ranges">Exact for each smoothed MatMul input (its channels' extremes divided by s), a bound
/// for the intermediate tensors of a folded chain (a decomposed LayerNorm's Mul, a MatMul before its bias).</param>
/// <param name="Folded">Inputs whose 1/s went into the producer's constants.</param>
/// <param name="Inserted">Inputs that got a Mul by 1/s.</param>
/// <param name="Weights">MatMul weights multiplied by diag(s).</param>
/// <param name="Scaled">Every tensor whose values were multiplied per channel, with its smallest and largest factor.</param>
public sealed record SmoothingResult(OnnxModel Model, IReadOnlyDictionary<string, ActivationRange> Ranges, IReadOnlyDictionary<string, (float Min, float Max)> Scaled,
    int Folded, int Inserted, int Weights)
{
    /// <summary>Calibrated ranges of the original model made true of the smoothed one: the smoothed MatMul inputs
    /// take their exact ranges, other rescaled tensors (intermediates of a folded chain) their range bounded by
    /// the smallest and largest factor.</summary>
    public IReadOnlyDictionary<string, ActivationRange> Rescale(IReadOnlyDictionary<string, ActivationRange> calibrated)
    {
        var result = new Dictionary<string, ActivationRange>(calibrated, StringComparer.Ordinal);
        foreach (var (tensor, (lo, hi)) in Scaled)
            if (!Ranges.ContainsKey(tensor) && calibrated.TryGetValue(tensor, out var r))
                result[tensor] = new ActivationRange(Math.Min(r.Min * lo, r.Min * hi), Math.Max(r.Max * lo, r.Max * hi));
        foreach (var (tensor, r) in Ranges) result[tensor] = r;
        return result;
    }
}

/// <summary>SmoothQuant-style migration (Xiao et al., 2023) over a float model: moves per-channel outliers of
/// the activations that MatMuls with constant weights multiply into those weights, so 8 bits per tensor hold
/// the activations. The op facts (which producers absorb 1/s in their constants) come from the registry.</summary>
public static class ActivationSmoothing
{
    private const float MinFactor = 1e-4f, MaxFactor = 1e4f;

    /// <summary>Activation tensors smoothing may rescale: the first input of a MatMul whose second is a constant
    /// 2-D float weight [K, N], with its K.</summary>
    public static IReadOnlyDictionary<string, int> Candidates(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var view = model.Graph;
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in view.Nodes)
            if (WeightOf(view, n) is { } w && !result.ContainsKey(n.Input[0])) result[n.Input[0]] = (int)w.Dims[0];
        return result;
    }

    /// <summary>The smoothed float model (<paramref name="model"/> itself when nothing could be smoothed).</summary>
    public static SmoothingResult Smooth(OnnxModel model, SmoothingOptions options, OpQuantizerRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.Alpha >= 0 && options.Alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(options), $"The smoothing alpha must lie in [0, 1]; got {options.Alpha}.");
        var proto = model.CloneProto();
        var scaling = new ChannelScaling(model, proto.Graph, registry ?? OpQuantizerRegistry.Default);
        var view = scaling.View;
        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
        var inserted = new List<(int Position, NodeProto Mul)>();
        int folded = 0, weights = 0;
        var order = view.Proto.Node.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, ReferenceEqualityComparer.Instance);

        foreach (var (x, k) in Candidates(model))
        {
            if (!options.ChannelRanges.TryGetValue(x, out var range) || range.Channels != k || range.Rows == 0) continue;
            var readers = view.Consumers(x);
            // Weights as they are now: an earlier fold may have rewritten one.
            var matmuls = readers.Where(n => n.OpType == "MatMul" && string.IsNullOrEmpty(n.Domain) && n.Input.Count == 2 && n.Input[0] == x && n.Input[1] != x
                && scaling.Constant(n.Input[1]) is { DataType: ElementTypes.Float, Dims.Count: 2 } w && w.Dims[0] == k).ToList();
            if (matmuls.Count == 0) continue;
            var s = Factors(range, matmuls.Select(m => WeightAbsMax(scaling, m.Input[1], k)).ToList(), options.Alpha);
            var inverse = s.Select(v => 1f / v).ToArray();

            bool onlyMatMuls = matmuls.Count == readers.Count && !view.IsGraphOutput(x) && !view.IsInitializer(x);
            string smoothed;
            if (onlyMatMuls && view.Producer(x) is { } p && string.IsNullOrEmpty(p.Domain) && p.Output[0] == x
                && scaling.Registry.ScaleAbsorber(p.OpType) is { } absorber && absorber.CanAbsorb(p, k, scaling))
            {
                absorber.Absorb(p, inverse, scaling);
                smoothed = x;
                folded++;
            }
            else if (options.InsertMul)
            {
                smoothed = scaling.TakeName(x + "_smoothed");
                string factors = scaling.TakeName(x + "_smoothing_factors");
                proto.Graph.Initializer.Add(TensorData.FromFloats(factors, new long[] { k }, inverse));
                var mul = new NodeProto { OpType = "Mul", Name = scaling.TakeName(x + "_Smoothing") };
                mul.Input.Add(x);
                mul.Input.Add(factors);
                mul.Output.Add(smoothed);
                // Right after the first reader's position: every reader comes after the tensor's producer.
                inserted.Add((matmuls.Min(m => order[m]), mul));
                foreach (var m in matmuls) m.Input[0] = smoothed;
            }
            else continue;

            foreach (var m in matmuls)
            {
                var w = scaling.Floats(m.Input[1])!;
                int n = w.Length / k;
                var scaled = new float[w.Length];
                for (int j = 0; j < k; j++)
                    System.Numerics.Tensors.TensorPrimitives.Multiply(w.AsSpan(j * n, n), s[j], scaled.AsSpan(j * n, n));
                scaling.ReplaceInput(m, 1, scaling.Dims(m.Input[1])!, scaled);
                weights++;
            }
            ranges[smoothed] = Divided(range, inverse);
        }
        if (folded == 0 && inserted.Count == 0) return new SmoothingResult(model, ranges, new Dictionary<string, (float, float)>(), 0, 0, 0);

        // Inserted Muls go just before their first reader, keeping the node list topologically sorted.
        foreach (var (position, mul) in inserted.OrderByDescending(p => p.Position))
            proto.Graph.Node.Insert(position, mul);
        GraphEdits.RemoveReplacedConstants(proto.Graph, proto.Graph.Node, scaling.Replaced);
        var factorBounds = scaling.Scaled.ToDictionary(kv => kv.Key, kv => (kv.Value.Min(), kv.Value.Max()), StringComparer.Ordinal);
        return new SmoothingResult(model.With(proto), ranges, factorBounds, folded, inserted.Count, weights);
    }

    /// <summary>s_j = max|X_j|^alpha / max|W_j|^(1-alpha), 1 where a channel or its weight row is all zero,
    /// kept within [1e-4, 1e4] so no channel is pushed out of float's precision.</summary>
    internal static float[] Factors(ChannelRange x, IReadOnlyList<float[]> weightRowMaxima, double alpha)
    {
        var s = new float[x.Channels];
        for (int j = 0; j < s.Length; j++)
        {
            double a = x.AbsMax(j), w = weightRowMaxima.Max(m => m[j]);
            double v = a > 0 && w > 0 && double.IsFinite(a) ? Math.Pow(a, alpha) / Math.Pow(w, 1 - alpha) : 1;
            s[j] = (float)Math.Clamp(v, MinFactor, MaxFactor);
        }
        return s;
    }

    // The exact range of x times positive per-channel factors.
    private static ActivationRange Divided(ChannelRange range, float[] factors)
    {
        float min = 0, max = 0;
        for (int j = 0; j < factors.Length; j++)
        {
            if (range.Min[j] > range.Max[j]) continue;
            min = Math.Min(min, range.Min[j] * factors[j]);
            max = Math.Max(max, range.Max[j] * factors[j]);
        }
        return new ActivationRange(min, max);
    }

    private static TensorProto? WeightOf(GraphView view, NodeProto n) =>
        n.OpType == "MatMul" && string.IsNullOrEmpty(n.Domain) && n.Input.Count == 2 && !view.IsConstant(n.Input[0])
        && view.GetConstant(n.Input[1]) is { DataType: ElementTypes.Float, Dims.Count: 2 } w ? w : null;

    private static float[] WeightAbsMax(ChannelScaling scaling, string weight, int k)
    {
        var w = scaling.Floats(weight)!;
        int n = w.Length / k;
        var m = new float[k];
        for (int j = 0; j < k; j++) m[j] = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(w.AsSpan(j * n, n)) is var v ? Math.Abs(v) : 0;
        return m;
    }
}
