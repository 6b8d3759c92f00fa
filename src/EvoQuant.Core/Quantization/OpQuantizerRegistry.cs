using EvoQuant.Quantization.Operators;
using EvoQuant.Quantization.Rewrite;

namespace EvoQuant.Quantization;

/// <summary>All op knowledge of the quantizer: for each format (QDQ, QOperator, dynamic) and op type, the
/// declarer that says what to quantize (a class shared by the formats) and the emitter that writes the
/// format's quantized form, with a per-format fallback for op types a user names that no class knows.
/// Adding an op to a format is one declarer class (or an existing one) and one <see cref="Register"/> call.</summary>
public sealed class OpQuantizerRegistry
{
    private readonly Dictionary<(RewriteFormat, string), OpRegistration> _map = new();
    private readonly Dictionary<RewriteFormat, OpRegistration> _fallback = new();
    private readonly Dictionary<string, Smoothing.IChannelScaleAbsorber> _absorbers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Smoothing.IChannelSplitter> _splitters = new(StringComparer.Ordinal);

    /// <summary>The op types of ONNX Runtime's tool for QDQ, QOperator (its QLinear table) and dynamic
    /// quantization (its IntegerOps table, plus Gemm), plus a few (Flatten, ...).</summary>
    public static OpQuantizerRegistry Default { get; } = CreateDefault();

    /// <exception cref="ArgumentException">The emitter belongs to another format.</exception>
    public void Register(RewriteFormat format, string opType, IOpQuantizer declarer, IOpEmitter emitter)
    {
        Check(format, emitter);
        _map[(format, opType)] = new OpRegistration(declarer, emitter);
    }

    public void RegisterFallback(RewriteFormat format, IOpQuantizer declarer, IOpEmitter emitter)
    {
        Check(format, emitter);
        _fallback[format] = new OpRegistration(declarer, emitter);
    }

    /// <summary>Registers how an op type (default domain) rescales its output channels through its constants,
    /// which smoothing uses to fold its factors instead of inserting a Mul.</summary>
    public void RegisterScaleAbsorber(string opType, Smoothing.IChannelScaleAbsorber absorber)
    {
        ArgumentNullException.ThrowIfNull(absorber);
        _absorbers[opType] = absorber;
    }

    /// <summary>The op type's channel-scale absorber, or null when its output cannot be rescaled for free.</summary>
    public Smoothing.IChannelScaleAbsorber? ScaleAbsorber(string opType) => _absorbers.GetValueOrDefault(opType);

    /// <summary>Registers how an op type (default domain) computes some of its input channels apart, which the
    /// outlier split uses to keep a few outlier channels float.</summary>
    public void RegisterChannelSplitter(string opType, Smoothing.IChannelSplitter splitter)
    {
        ArgumentNullException.ThrowIfNull(splitter);
        _splitters[opType] = splitter;
    }

    /// <summary>The op type's channel splitter, or null when its input channels cannot be computed apart.</summary>
    public Smoothing.IChannelSplitter? ChannelSplitter(string opType) => _splitters.GetValueOrDefault(opType);

    /// <summary>A new registry with every registration of this one, to extend without touching the original.</summary>
    public OpQuantizerRegistry Copy()
    {
        var r = new OpQuantizerRegistry();
        foreach (var (k, v) in _map) r._map[k] = v;
        foreach (var (k, v) in _fallback) r._fallback[k] = v;
        foreach (var (k, v) in _absorbers) r._absorbers[k] = v;
        foreach (var (k, v) in _splitters) r._splitters[k] = v;
        return r;
    }

    /// <summary>Op types quantized by default in this format.</summary>
    public IReadOnlyCollection<string> SupportedOpTypes(QuantFormat format) => SupportedOpTypes(RewriteFormats.Of(format));

    public IReadOnlyCollection<string> SupportedOpTypes(RewriteFormat format) =>
        _map.Keys.Where(k => k.Item1 == format).Select(k => k.Item2).OrderBy(s => s, StringComparer.Ordinal).ToList();

    public bool IsRegistered(QuantFormat format, string opType) => IsRegistered(RewriteFormats.Of(format), opType);

    public bool IsRegistered(RewriteFormat format, string opType) => _map.ContainsKey((format, opType));

    /// <summary>The declarer for an op type; the format's fallback when <paramref name="useFallback"/>; else null.</summary>
    public IOpQuantizer? Find(QuantFormat format, string opType, bool useFallback = false) => Registration(RewriteFormats.Of(format), opType, useFallback)?.Declarer;

    /// <summary>Declarer and emitter of an op type; the format's fallback when <paramref name="useFallback"/>; else null.</summary>
    public OpRegistration? Registration(RewriteFormat format, string opType, bool useFallback = false) =>
        _map.TryGetValue((format, opType), out var r) ? r : useFallback ? _fallback.GetValueOrDefault(format) : null;

    public bool HasFallback(QuantFormat format) => HasFallback(RewriteFormats.Of(format));

    public bool HasFallback(RewriteFormat format) => _fallback.ContainsKey(format);

    private static void Check(RewriteFormat format, IOpEmitter emitter)
    {
        ArgumentNullException.ThrowIfNull(emitter);
        if (emitter.Format != format)
            throw new ArgumentException($"An emitter of the {emitter.Format} format cannot be registered for {format}.", nameof(emitter));
    }

    private static OpQuantizerRegistry CreateDefault()
    {
        var r = new OpQuantizerRegistry();
        Qdq.QdqOps.Register(r);
        QOperator.QOperatorOps.Register(r);
        Dynamic.DynamicOps.Register(r);
        WeightOnly.WeightOnlyOps.Register(r);
        Smoothing.SmoothingOps.Register(r);
        return r;
    }
}
