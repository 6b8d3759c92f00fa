using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EvoQuant.Numerics;

namespace EvoQuant.Calibration;

/// <summary>Bins of a <see cref="GridHistogram"/>: clamp(floor(v * 2^-e) + origin, 0, last), with v = |x|
/// for absolute histograms. The scale is a power of two, so v * 2^-e is exact and floor and the
/// conversion agree in every path: vector and scalar bins are equal bit for bit. Exact but for underflow:
/// a negative v whose product rounds to -0 belongs to bin -1, not 0, so that every grid puts a value where
/// a finer one coarsened would (found with values near 1e-45 against widths above 1). NaN and infinities
/// go to the slot after the last bin, which the histogram drops and counts as non-finite.</summary>
internal readonly struct GridBinner : IBinner
{
    private readonly float _invWidth;
    private readonly int _origin, _last;
    private readonly bool _absolute;

    public GridBinner(float invWidth, int origin, int last, bool absolute) =>
        (_invWidth, _origin, _last, _absolute) = (invWidth, origin, last, absolute);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Bin(float x) =>
        float.IsFinite(x) ? Math.Clamp(Floor(_absolute ? MathF.Abs(x) : x, _invWidth) + _origin, 0, _last) : _last + 1;

    /// <summary>floor(v * scale), with a negative v whose product underflows to -0 in bin -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Floor(float v, float scale)
    {
        int k = (int)MathF.Floor(v * scale);
        return k == 0 && v < 0 ? -1 : k;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector128<int> Bin(Vector128<float> x)
    {
        var finite = Vector128.LessThan(Vector128.Abs(x), Vector128.Create(float.PositiveInfinity)).AsInt32();
        if (_absolute) x = Vector128.Abs(x);
        var k = Vector128.ConvertToInt32(Vector128.Floor(x * Vector128.Create(_invWidth)));
        k += Vector128.Equals(k, Vector128<int>.Zero) & Vector128.LessThan(x, Vector128<float>.Zero).AsInt32(); // underflow, see Floor
        k += Vector128.Create(_origin);
        k = Vector128.Min(Vector128.Max(k, Vector128<int>.Zero), Vector128.Create(_last));
        return Vector128.ConditionalSelect(finite, k, Vector128.Create(_last + 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> Bin(Vector256<float> x)
    {
        var finite = Vector256.LessThan(Vector256.Abs(x), Vector256.Create(float.PositiveInfinity)).AsInt32();
        if (_absolute) x = Vector256.Abs(x);
        var k = Vector256.ConvertToInt32(Vector256.Floor(x * Vector256.Create(_invWidth)));
        k += Vector256.Equals(k, Vector256<int>.Zero) & Vector256.LessThan(x, Vector256<float>.Zero).AsInt32(); // underflow, see Floor
        k += Vector256.Create(_origin);
        k = Vector256.Min(Vector256.Max(k, Vector256<int>.Zero), Vector256.Create(_last));
        return Vector256.ConditionalSelect(finite, k, Vector256.Create(_last + 1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<int> Bin(Vector512<float> x)
    {
        var finite = Vector512.LessThan(Vector512.Abs(x), Vector512.Create(float.PositiveInfinity)).AsInt32();
        if (_absolute) x = Vector512.Abs(x);
        var k = Vector512.ConvertToInt32(Vector512.Floor(x * Vector512.Create(_invWidth)));
        k += Vector512.Equals(k, Vector512<int>.Zero) & Vector512.LessThan(x, Vector512<float>.Zero).AsInt32(); // underflow, see Floor
        k += Vector512.Create(_origin);
        k = Vector512.Min(Vector512.Max(k, Vector512<int>.Zero), Vector512.Create(_last));
        return Vector512.ConditionalSelect(finite, k, Vector512.Create(_last + 1));
    }
}
