using EvoQuant.Quantization.Operators;

namespace EvoQuant.Quantization;

/// <summary>Op quantizers by format and op type, with a per-format fallback for op types a user asks
/// for that no class knows. A new op is one class and one <see cref="Register"/> call.</summary>
public sealed class OpQuantizerRegistry
{
    private readonly Dictionary<(QuantFormat, string), IOpQuantizer> _map = new();
    private readonly Dictionary<QuantFormat, IOpQuantizer> _fallback = new();

    /// <summary>The op types of ONNX Runtime's tool for QDQ (its QDQ and QLinear tables), plus Flatten.</summary>
    public static OpQuantizerRegistry Default { get; } = CreateDefault();

    public void Register(QuantFormat format, string opType, IOpQuantizer quantizer) => _map[(format, opType)] = quantizer;

    public void RegisterFallback(QuantFormat format, IOpQuantizer quantizer) => _fallback[format] = quantizer;

    /// <summary>Op types quantized by default in this format.</summary>
    public IReadOnlyCollection<string> SupportedOpTypes(QuantFormat format) =>
        _map.Keys.Where(k => k.Item1 == format).Select(k => k.Item2).OrderBy(s => s, StringComparer.Ordinal).ToList();

    public bool IsRegistered(QuantFormat format, string opType) => _map.ContainsKey((format, opType));

    /// <summary>The quantizer for an op type; the format's fallback when <paramref name="useFallback"/>; else null.</summary>
    public IOpQuantizer? Find(QuantFormat format, string opType, bool useFallback = false) =>
        _map.TryGetValue((format, opType), out var q) ? q : useFallback ? _fallback.GetValueOrDefault(format) : null;

    public bool HasFallback(QuantFormat format) => _fallback.ContainsKey(format);

    private static OpQuantizerRegistry CreateDefault()
    {
        var r = new OpQuantizerRegistry();
        const QuantFormat F = QuantFormat.QDQ;
        var weighted = new WeightedOpQuantizer();
        foreach (var op in new[] { "Conv", "ConvTranspose", "Gemm" }) r.Register(F, op, weighted);
        r.Register(F, "MatMul", new MatMulQuantizer());

        var removable = new RemovableActivationQuantizer();
        r.Register(F, "Relu", removable);
        r.Register(F, "Clip", removable);

        var pass = new PassThroughQuantizer();
        foreach (var op in new[] { "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Slice", "AveragePool", "Resize", "Split", "TopK" })
            r.Register(F, op, pass);
        r.Register(F, "MaxPool", new PassThroughQuantizer(minOpset: 12));
        var gather = new PassThroughQuantizer(quantizeConstantData: true);
        r.Register(F, "Gather", gather);
        r.Register(F, "GatherElements", gather);

        var generic = new GenericOpQuantizer();
        foreach (var op in new[] { "Add", "Mul", "Concat", "GlobalAveragePool", "LeakyRelu", "ArgMax", "CumSum" })
            r.Register(F, op, generic);
        r.Register(F, "Pad", new GenericOpQuantizer(0));
        r.Register(F, "Where", new GenericOpQuantizer(1, 2));
        var probability = new BoundedOutputQuantizer(0f, 1f);
        foreach (var op in new[] { "Softmax", "Sigmoid", "HardSigmoid" }) r.Register(F, op, probability);
        r.Register(F, "Tanh", new BoundedOutputQuantizer(-1f, 1f));
        var norm = new NormalizationQuantizer();
        foreach (var op in new[] { "BatchNormalization", "InstanceNormalization", "LayerNormalization" }) r.Register(F, op, norm);

        r.RegisterFallback(F, generic);
        QOperator.QOperatorOps.Register(r);
        return r;
    }
}
