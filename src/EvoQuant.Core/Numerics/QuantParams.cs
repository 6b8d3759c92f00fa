namespace EvoQuant.Numerics;

/// <summary>Affine quantization parameters: <c>real = Scale * (q - ZeroPoint)</c>.</summary>
public readonly record struct QuantParams(float Scale, int ZeroPoint, QuantType Type);
