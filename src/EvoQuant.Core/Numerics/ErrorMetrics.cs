using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EvoQuant.Numerics;

/// <summary>All error measures between a reference and a candidate tensor, from one pass.</summary>
/// <param name="Count">Number of elements compared.</param>
/// <param name="Mse">Mean of (ref - cand)^2.</param>
/// <param name="MaxAbsError">Largest |ref - cand|.</param>
/// <param name="MeanAbsError">Mean of |ref - cand|.</param>
/// <param name="CosineSimilarity">ref·cand / (|ref| |cand|); 1 when both are all zeros, 0 when only one is.</param>
/// <param name="Sqnr">Signal to quantization noise ratio in dB, 10 log10(Σref² / Σ(ref-cand)²); +inf when equal.</param>
public readonly record struct ErrorSummary(long Count, double Mse, double MaxAbsError, double MeanAbsError, double CosineSimilarity, double Sqnr);

/// <summary>
/// Float vs quantized error measures. Sums are accumulated in double (float sums of 16M squares lose
/// digits); NaN in either input makes every measure NaN. Length mismatch throws ArgumentException.
/// </summary>
public static class ErrorMetrics
{
    public static double Mse(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate) => Summarize(reference, candidate).Mse;
    public static double MaxAbsError(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate) => Summarize(reference, candidate).MaxAbsError;
    public static double MeanAbsError(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate) => Summarize(reference, candidate).MeanAbsError;
    public static double CosineSimilarity(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate) => Summarize(reference, candidate).CosineSimilarity;
    public static double Sqnr(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate) => Summarize(reference, candidate).Sqnr;

    /// <summary>Every measure in one pass over the data.</summary>
    public static ErrorSummary Summarize(ReadOnlySpan<float> reference, ReadOnlySpan<float> candidate)
    {
        var s = Sums.Compute(reference, candidate);
        return s.ToSummary(reference.Length);
    }

    /// <summary>Raw sums; mergeable so that a tensor seen in batches gives the same result as seen whole.</summary>
    internal struct Sums
    {
        public double RefSq, CandSq, Dot, DiffSq, AbsDiff, MaxAbsDiff;

        public static Sums Compute(ReadOnlySpan<float> r, ReadOnlySpan<float> c)
        {
            if (r.Length != c.Length)
                throw new ArgumentException($"Length mismatch: reference has {r.Length} elements, candidate {c.Length}.", nameof(c));
            nuint n = (nuint)r.Length;
            ref float rs = ref MemoryMarshal.GetReference(r);
            ref float cs = ref MemoryMarshal.GetReference(c);
            nuint i = 0;
            var sums = new Sums();

            if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported && n >= 16)
            {
                // Two independent accumulator sets (one per half of each 16-float block) so the adds
                // do not wait on each other; fused multiply-adds halve the arithmetic.
                var a = new Acc512();
                var b = new Acc512();
                for (; i + 16 <= n; i += 16)
                {
                    a.Add(Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref rs, i)), Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref cs, i)));
                    b.Add(Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref rs, i + 8)), Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref cs, i + 8)));
                }
                sums.RefSq = Vector512.Sum(a.RR + b.RR); sums.CandSq = Vector512.Sum(a.CC + b.CC); sums.Dot = Vector512.Sum(a.RC + b.RC);
                sums.DiffSq = Vector512.Sum(a.DD + b.DD); sums.AbsDiff = Vector512.Sum(a.AD + b.AD);
                var mx = Avx512F.Max(a.MX, b.MX);
                for (int k = 0; k < Vector512<double>.Count; k++) sums.MaxAbsDiff = Math.Max(sums.MaxAbsDiff, mx[k]);
            }
            else if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                var a = new Acc256();
                var b = new Acc256();
                for (; i + 8 <= n; i += 8)
                {
                    var (r0, r1) = Vector256.Widen(Vector256.LoadUnsafe(ref rs, i));
                    var (c0, c1) = Vector256.Widen(Vector256.LoadUnsafe(ref cs, i));
                    a.Add(r0, c0);
                    b.Add(r1, c1);
                }
                sums.RefSq = Vector256.Sum(a.RR + b.RR); sums.CandSq = Vector256.Sum(a.CC + b.CC); sums.Dot = Vector256.Sum(a.RC + b.RC);
                sums.DiffSq = Vector256.Sum(a.DD + b.DD); sums.AbsDiff = Vector256.Sum(a.AD + b.AD);
                for (int k = 0; k < Vector256<double>.Count; k++) sums.MaxAbsDiff = Math.Max(sums.MaxAbsDiff, Math.Max(a.MX[k], b.MX[k]));
            }
            else if (Vector128.IsHardwareAccelerated && n >= 4)
            {
                Vector128<double> rr = default, cc = default, rc = default, dd = default, ad = default, mx = default;
                for (; i + 4 <= n; i += 4)
                {
                    var (r0, r1) = Vector128.Widen(Vector128.LoadUnsafe(ref rs, i));
                    var (c0, c1) = Vector128.Widen(Vector128.LoadUnsafe(ref cs, i));
                    Accumulate(r0, c0, ref rr, ref cc, ref rc, ref dd, ref ad, ref mx);
                    Accumulate(r1, c1, ref rr, ref cc, ref rc, ref dd, ref ad, ref mx);
                }
                sums.RefSq = Vector128.Sum(rr); sums.CandSq = Vector128.Sum(cc); sums.Dot = Vector128.Sum(rc);
                sums.DiffSq = Vector128.Sum(dd); sums.AbsDiff = Vector128.Sum(ad);
                for (int k = 0; k < Vector128<double>.Count; k++) sums.MaxAbsDiff = Math.Max(sums.MaxAbsDiff, mx[k]);
            }

            for (; i < n; i++)
            {
                double a = Unsafe.Add(ref rs, i), b = Unsafe.Add(ref cs, i), d = a - b;
                sums.RefSq += a * a; sums.CandSq += b * b; sums.Dot += a * b;
                sums.DiffSq += d * d; sums.AbsDiff += Math.Abs(d);
                sums.MaxAbsDiff = Math.Max(sums.MaxAbsDiff, Math.Abs(d));
            }
            return sums;
        }

        /// <summary>Running vector sums of one accumulator set (AVX-512).</summary>
        private struct Acc512
        {
            public Vector512<double> RR, CC, RC, DD, AD, MX;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Add(Vector512<double> r, Vector512<double> c)
            {
                var d = r - c;
                var abs = Vector512.Abs(d);
                RR = Avx512F.FusedMultiplyAdd(r, r, RR);
                CC = Avx512F.FusedMultiplyAdd(c, c, CC);
                RC = Avx512F.FusedMultiplyAdd(r, c, RC);
                DD = Avx512F.FusedMultiplyAdd(d, d, DD);
                AD += abs;
                MX = Avx512F.Max(abs, MX);   // NaN keeps MX; NaN is reported through the sums
            }
        }

        /// <summary>Running vector sums of one accumulator set (AVX2).</summary>
        private struct Acc256
        {
            public Vector256<double> RR, CC, RC, DD, AD, MX;

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            public void Add(Vector256<double> r, Vector256<double> c)
            {
                var d = r - c;
                var abs = Vector256.Abs(d);
                if (Fma.IsSupported)
                {
                    RR = Fma.MultiplyAdd(r, r, RR); CC = Fma.MultiplyAdd(c, c, CC);
                    RC = Fma.MultiplyAdd(r, c, RC); DD = Fma.MultiplyAdd(d, d, DD);
                }
                else
                {
                    RR += r * r; CC += c * c; RC += r * c; DD += d * d;
                }
                AD += abs;
                MX = Vector256.ConditionalSelect(Vector256.GreaterThan(abs, MX), abs, MX);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Accumulate(Vector128<double> a, Vector128<double> b, ref Vector128<double> rr, ref Vector128<double> cc,
            ref Vector128<double> rc, ref Vector128<double> dd, ref Vector128<double> ad, ref Vector128<double> mx)
        {
            var d = a - b;
            var abs = Vector128.Abs(d);
            rr += a * a; cc += b * b; rc += a * b; dd += d * d; ad += abs;
            mx = Vector128.ConditionalSelect(Vector128.GreaterThan(abs, mx), abs, mx);
        }

        public void Merge(in Sums o)
        {
            RefSq += o.RefSq; CandSq += o.CandSq; Dot += o.Dot; DiffSq += o.DiffSq; AbsDiff += o.AbsDiff;
            MaxAbsDiff = Math.Max(MaxAbsDiff, o.MaxAbsDiff);
        }

        public readonly ErrorSummary ToSummary(long count)
        {
            bool nan = double.IsNaN(AbsDiff) || double.IsNaN(RefSq) || double.IsNaN(CandSq);
            double mse = count == 0 ? double.NaN : DiffSq / count;
            double mae = count == 0 ? double.NaN : AbsDiff / count;
            double maxAbs = nan ? double.NaN : MaxAbsDiff;
            double cosine = nan ? double.NaN
                : RefSq == 0 && CandSq == 0 ? 1.0
                : RefSq == 0 || CandSq == 0 ? 0.0
                : Dot / (Math.Sqrt(RefSq) * Math.Sqrt(CandSq));
            double sqnr = nan ? double.NaN
                : DiffSq == 0 ? double.PositiveInfinity
                : 10.0 * Math.Log10(RefSq / DiffSq);
            return new ErrorSummary(count, mse, maxAbs, mae, cosine, sqnr);
        }
    }
}
