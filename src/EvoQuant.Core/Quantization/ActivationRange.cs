namespace EvoQuant.Quantization;

/// <summary>The float range an activation tensor takes, as calibration measured it.</summary>
public readonly record struct ActivationRange(float Min, float Max)
{
    public override string ToString() => $"[{Min}, {Max}]";
}
