using EvoQuant.Numerics;

namespace EvoQuant.Quantization.Rewrite;

/// <summary>A tensor whose quantized form was written: the integer initializer (or run-time tensor), the
/// scale and zero-point names and values, and the channel axis of per-channel parameters.</summary>
/// <param name="ZeroPoint">Null when the format omits it (DequantizeLinear then takes 0).</param>
public sealed record StoredTensor(string Quantized, string Scale, string? ZeroPoint, QuantParams[] Params, int? Axis);
