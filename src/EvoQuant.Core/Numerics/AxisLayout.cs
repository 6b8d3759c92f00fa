namespace EvoQuant.Numerics;

/// <summary>Views a row-major tensor as [outer, axis, inner] for per-axis work.</summary>
internal static class AxisLayout
{
    public static (long Outer, int Axis, long Inner) Split(ReadOnlySpan<long> shape, int axis, int length)
    {
        int rank = shape.Length;
        if (rank == 0) throw new ArgumentException("Per-axis quantization needs a tensor of rank >= 1.", nameof(shape));
        if (axis < -rank || axis >= rank) throw new ArgumentOutOfRangeException(nameof(axis), axis, $"Axis out of range for rank {rank}.");
        if (axis < 0) axis += rank;

        long outer = 1, inner = 1;
        for (int i = 0; i < rank; i++)
        {
            if (shape[i] < 0) throw new ArgumentException($"Negative dimension {shape[i]}.", nameof(shape));
            if (i < axis) outer *= shape[i];
            else if (i > axis) inner *= shape[i];
        }
        long channels = shape[axis];
        if (outer * channels * inner != length)
            throw new ArgumentException($"Shape [{string.Join(",", shape.ToArray())}] holds {outer * channels * inner} elements, data has {length}.", nameof(shape));
        return (outer, checked((int)channels), inner);
    }
}
