using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EvoQuant.Numerics;

public static partial class Kernels
{
    // NaN policy of the reductions: NaN elements are ignored (a stray NaN must not poison a calibration
    // range). When no element is a number the result is NaN. ±inf are numbers and count.
    // Min(x, acc) keeps acc when x is NaN or when the two compare equal: that is exactly MINPS/MAXPS with
    // the data in the first operand, so x86 uses them and other targets a compare-and-select.

    /// <summary>Minimum and maximum in one pass; NaN elements are ignored (all NaN gives (NaN, NaN)).</summary>
    /// <exception cref="ArgumentException">x is empty.</exception>
    public static (float Min, float Max) MinMax(ReadOnlySpan<float> x)
    {
        if (x.IsEmpty) throw new ArgumentException("Cannot take the min/max of an empty span.", nameof(x));
        nuint n = (nuint)x.Length;
        ref float xs = ref MemoryMarshal.GetReference(x);
        float mn = float.PositiveInfinity, mx = float.NegativeInfinity;
        nuint i = 0;

        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint w = (nuint)Vector512<float>.Count;
            Vector512<float> mn0 = Vector512.Create(mn), mn1 = mn0, mx0 = Vector512.Create(mx), mx1 = mx0;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                var a = Vector512.LoadUnsafe(ref xs, i);
                var b = Vector512.LoadUnsafe(ref xs, i + w);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
                mn1 = MinKeep(b, mn1); mx1 = MaxKeep(b, mx1);
            }
            for (; i + w <= n; i += w)
            {
                var a = Vector512.LoadUnsafe(ref xs, i);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
            }
            if (i < n)
            {
                var a = Vector512.LoadUnsafe(ref xs, n - w);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
            }
            mn0 = MinKeep(mn1, mn0); mx0 = MaxKeep(mx1, mx0);
            for (int k = 0; k < Vector512<float>.Count; k++) { mn = MinKeep(mn0[k], mn); mx = MaxKeep(mx0[k], mx); }
            return Finish(mn, mx);
        }

        if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            nuint w = (nuint)Vector256<float>.Count;
            Vector256<float> mn0 = Vector256.Create(mn), mn1 = mn0, mx0 = Vector256.Create(mx), mx1 = mx0;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                var a = Vector256.LoadUnsafe(ref xs, i);
                var b = Vector256.LoadUnsafe(ref xs, i + w);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
                mn1 = MinKeep(b, mn1); mx1 = MaxKeep(b, mx1);
            }
            for (; i + w <= n; i += w)
            {
                var a = Vector256.LoadUnsafe(ref xs, i);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
            }
            if (i < n)
            {
                var a = Vector256.LoadUnsafe(ref xs, n - w);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
            }
            mn0 = MinKeep(mn1, mn0); mx0 = MaxKeep(mx1, mx0);
            for (int k = 0; k < Vector256<float>.Count; k++) { mn = MinKeep(mn0[k], mn); mx = MaxKeep(mx0[k], mx); }
            return Finish(mn, mx);
        }

        if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            nuint w = (nuint)Vector128<float>.Count;
            Vector128<float> mn0 = Vector128.Create(mn), mx0 = Vector128.Create(mx);
            for (; i + w <= n; i += w)
            {
                var a = Vector128.LoadUnsafe(ref xs, i);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
            }
            if (i < n)
            {
                var a = Vector128.LoadUnsafe(ref xs, n - w);
                mn0 = MinKeep(a, mn0); mx0 = MaxKeep(a, mx0);
            }
            for (int k = 0; k < Vector128<float>.Count; k++) { mn = MinKeep(mn0[k], mn); mx = MaxKeep(mx0[k], mx); }
            return Finish(mn, mx);
        }

        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref xs, i);
            mn = MinKeep(v, mn); mx = MaxKeep(v, mx);
        }
        return Finish(mn, mx);

        static (float, float) Finish(float mn, float mx) =>
            mn == float.PositiveInfinity && mx == float.NegativeInfinity ? (float.NaN, float.NaN) : (mn, mx);
    }

    /// <summary>How many elements are NaN or ±infinity (what calibration leaves out of ranges and counts).</summary>
    public static long CountNonFinite(ReadOnlySpan<float> x)
    {
        nuint n = (nuint)x.Length;
        ref float xs = ref MemoryMarshal.GetReference(x);
        long count = 0;
        nuint i = 0;
        // x - x is 0 for every finite x and NaN for NaN and ±infinity: a lane that does not equal 0 counts.
        if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            nuint w = (nuint)Vector256<float>.Count;
            for (; i + w <= n; i += w)
            {
                var a = Vector256.LoadUnsafe(ref xs, i);
                uint finite = Vector256.Equals(a - a, Vector256<float>.Zero).ExtractMostSignificantBits();
                count += Vector256<float>.Count - System.Numerics.BitOperations.PopCount(finite);
            }
        }
        else if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            nuint w = (nuint)Vector128<float>.Count;
            for (; i + w <= n; i += w)
            {
                var a = Vector128.LoadUnsafe(ref xs, i);
                uint finite = Vector128.Equals(a - a, Vector128<float>.Zero).ExtractMostSignificantBits();
                count += Vector128<float>.Count - System.Numerics.BitOperations.PopCount(finite);
            }
        }
        for (; i < n; i++)
            if (!float.IsFinite(Unsafe.Add(ref xs, i))) count++;
        return count;
    }

    /// <summary>Largest |x|, NaN ignored; NaN when no element is a number.</summary>
    /// <exception cref="ArgumentException">x is empty.</exception>
    public static float MaxAbs(ReadOnlySpan<float> x)
    {
        if (x.IsEmpty) throw new ArgumentException("Cannot take the max |x| of an empty span.", nameof(x));
        nuint n = (nuint)x.Length;
        ref float xs = ref MemoryMarshal.GetReference(x);
        float mx = -1f;   // below every |x|: still -1 at the end means no number was seen
        nuint i = 0;

        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            nuint w = (nuint)Vector512<float>.Count;
            Vector512<float> m0 = Vector512.Create(mx), m1 = m0;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                m0 = MaxKeep(Vector512.Abs(Vector512.LoadUnsafe(ref xs, i)), m0);
                m1 = MaxKeep(Vector512.Abs(Vector512.LoadUnsafe(ref xs, i + w)), m1);
            }
            for (; i + w <= n; i += w) m0 = MaxKeep(Vector512.Abs(Vector512.LoadUnsafe(ref xs, i)), m0);
            if (i < n) m0 = MaxKeep(Vector512.Abs(Vector512.LoadUnsafe(ref xs, n - w)), m0);
            m0 = MaxKeep(m1, m0);
            for (int k = 0; k < Vector512<float>.Count; k++) mx = MaxKeep(m0[k], mx);
            return mx < 0 ? float.NaN : mx;
        }

        if (Vector256.IsHardwareAccelerated && n >= (nuint)Vector256<float>.Count)
        {
            nuint w = (nuint)Vector256<float>.Count;
            Vector256<float> m0 = Vector256.Create(mx), m1 = m0;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                m0 = MaxKeep(Vector256.Abs(Vector256.LoadUnsafe(ref xs, i)), m0);
                m1 = MaxKeep(Vector256.Abs(Vector256.LoadUnsafe(ref xs, i + w)), m1);
            }
            for (; i + w <= n; i += w) m0 = MaxKeep(Vector256.Abs(Vector256.LoadUnsafe(ref xs, i)), m0);
            if (i < n) m0 = MaxKeep(Vector256.Abs(Vector256.LoadUnsafe(ref xs, n - w)), m0);
            m0 = MaxKeep(m1, m0);
            for (int k = 0; k < Vector256<float>.Count; k++) mx = MaxKeep(m0[k], mx);
            return mx < 0 ? float.NaN : mx;
        }

        if (Vector128.IsHardwareAccelerated && n >= (nuint)Vector128<float>.Count)
        {
            nuint w = (nuint)Vector128<float>.Count;
            Vector128<float> m0 = Vector128.Create(mx);
            for (; i + w <= n; i += w) m0 = MaxKeep(Vector128.Abs(Vector128.LoadUnsafe(ref xs, i)), m0);
            if (i < n) m0 = MaxKeep(Vector128.Abs(Vector128.LoadUnsafe(ref xs, n - w)), m0);
            for (int k = 0; k < Vector128<float>.Count; k++) mx = MaxKeep(m0[k], mx);
            return mx < 0 ? float.NaN : mx;
        }

        for (; i < n; i++) mx = MaxKeep(MathF.Abs(Unsafe.Add(ref xs, i)), mx);
        return mx < 0 ? float.NaN : mx;
    }

    // x < acc ? x : acc — keeps acc for NaN x.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float MinKeep(float x, float acc) => x < acc ? x : acc;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float MaxKeep(float x, float acc) => x > acc ? x : acc;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> MinKeep(Vector128<float> x, Vector128<float> acc) =>
        Sse.IsSupported ? Sse.Min(x, acc) : Vector128.ConditionalSelect(Vector128.LessThan(x, acc), x, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> MaxKeep(Vector128<float> x, Vector128<float> acc) =>
        Sse.IsSupported ? Sse.Max(x, acc) : Vector128.ConditionalSelect(Vector128.GreaterThan(x, acc), x, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> MinKeep(Vector256<float> x, Vector256<float> acc) =>
        Avx.IsSupported ? Avx.Min(x, acc) : Vector256.ConditionalSelect(Vector256.LessThan(x, acc), x, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> MaxKeep(Vector256<float> x, Vector256<float> acc) =>
        Avx.IsSupported ? Avx.Max(x, acc) : Vector256.ConditionalSelect(Vector256.GreaterThan(x, acc), x, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> MinKeep(Vector512<float> x, Vector512<float> acc) =>
        Avx512F.IsSupported ? Avx512F.Min(x, acc) : Vector512.ConditionalSelect(Vector512.LessThan(x, acc), x, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> MaxKeep(Vector512<float> x, Vector512<float> acc) =>
        Avx512F.IsSupported ? Avx512F.Max(x, acc) : Vector512.ConditionalSelect(Vector512.GreaterThan(x, acc), x, acc);
}
