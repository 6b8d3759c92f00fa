using System.Numerics;
using System.Runtime.CompilerServices;

namespace EvoQuant.Numerics;

/// <summary>Natural log of positive normal doubles, in place, with <see cref="Vector{T}"/> lanes and the
/// same formula lane by lane for the rest, so every element gets the same bits on any hardware (within
/// 2 ulp of <see cref="Math.Log(double)"/>, the reference the tests hold it to). The Entropy threshold
/// search takes ~128 logs per candidate window, millions per calibration; TensorPrimitives.Log is as fast
/// once tiered up, but a calibration calls it from cold code, where its generic layers run unoptimised
/// for the first hundred milliseconds and its lanes differ by ISA.</summary>
internal static class VectorLog
{
    // x = 2^e * f with f in [sqrt(1/2), sqrt(2)); log f = 2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...) with
    // s = (f - 1) / (f + 1), |s| <= 0.1716.
    private const double Ln2Hi = 0.693147180369123816490; // ln 2 split so that e * Ln2Hi is exact
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const long MantissaMask = (1L << 52) - 1;
    private const long ExponentOne = 1023L << 52;
    private const long SqrtTwoMantissa = 0x6A09E667F3BCDL; // mantissa bits of sqrt(2)

    /// <summary>Replaces each element by its natural log. Elements must be positive, finite and normal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // called from cold code; never worth a tier-0 pass
    public static void LogInPlace(Span<double> x)
    {
        int w = Vector<double>.Count, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= x.Length - w; i += w)
            {
                var slice = x.Slice(i, w);
                Log(new Vector<double>(slice)).CopyTo(slice);
            }
        }
        for (; i < x.Length; i++) x[i] = Log(x[i]);
    }

    /// <summary>The formula for one element (and the fallback when vectors are not accelerated).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Log(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        long mant = bits & MantissaMask;
        long e = (bits >> 52) - 1023;
        // Mantissas at or above sqrt(2) take the next exponent, so f = mantissa / 2 lands in [sqrt(1/2), 1).
        long up = mant >= SqrtTwoMantissa ? 1 : 0;
        double f = BitConverter.Int64BitsToDouble(mant | (ExponentOne - (up << 52)));
        double ed = e + up;
        double s = (f - 1) / (f + 1), z = s * s;
        return ed * Ln2Hi + (ed * Ln2Lo + 2 * s * Series(z));
    }

    /// <summary>The formula lane by lane (the same bits as <see cref="Log(double)"/>). Lanes must be positive,
    /// finite and normal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Log(Vector<double> x)
    {
        var bits = Vector.AsVectorInt64(x);
        var mant = bits & new Vector<long>(MantissaMask);
        var e = Vector.ShiftRightArithmetic(bits, 52) - new Vector<long>(1023);
        var up = Vector.GreaterThanOrEqual(mant, new Vector<long>(SqrtTwoMantissa)); // -1 where true
        var f = Vector.AsVectorDouble(mant | (new Vector<long>(ExponentOne) + Vector.ShiftLeft(up, 52)));
        var ed = Vector.ConvertToDouble(e - up);
        var one = Vector<double>.One;
        var s = (f - one) / (f + one);
        var z = s * s;
        return ed * new Vector<double>(Ln2Hi) + (ed * new Vector<double>(Ln2Lo) + new Vector<double>(2) * s * Series(z));
    }

    // 1 + z/3 + z^2/5 + ... as a minimax polynomial of degree 7 in z over s^2 <= 0.0295 (error below 2^-58):
    // half of fdlibm's Lg1..Lg7 for log(1+f) = 2s + s R(z) (e_log.c, Sun Microsystems, freely usable).
    private const double C1 = 6.666666666666735130e-01 / 2, C2 = 3.999999999940941908e-01 / 2,
        C3 = 2.857142874366239149e-01 / 2, C4 = 2.222219843214978396e-01 / 2, C5 = 1.818357216161805012e-01 / 2,
        C6 = 1.531383769920937332e-01 / 2, C7 = 1.479819860511658591e-01 / 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Series(double z) => 1 + z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * (C6 + z * C7))))));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Series(Vector<double> z)
    {
        var p = new Vector<double>(C7);
        p = p * z + new Vector<double>(C6);
        p = p * z + new Vector<double>(C5);
        p = p * z + new Vector<double>(C4);
        p = p * z + new Vector<double>(C3);
        p = p * z + new Vector<double>(C2);
        p = p * z + new Vector<double>(C1);
        return p * z + Vector<double>.One;
    }
}
