namespace EvoQuant.Quantization.Rewrite;

/// <summary>Writes the quantized form of one op type in one format, from what its declarer put in the
/// plan, and records what it wrote in the provenance. Each format has its own emitter interface
/// (<see cref="Qdq.IQdqEmitter"/>, <see cref="QOperator.IQOperatorEmitter"/>, <see cref="Dynamic.IDynamicEmitter"/>),
/// since each rewrites the graph differently; this is what the registry stores.</summary>
public interface IOpEmitter
{
    /// <summary>The rewrite this emitter belongs to; the registry refuses it under another.</summary>
    RewriteFormat Format { get; }
}

/// <summary>One registry entry: the declarer (shared by formats) and the format's emitter.</summary>
public sealed record OpRegistration(IOpQuantizer Declarer, IOpEmitter Emitter);
