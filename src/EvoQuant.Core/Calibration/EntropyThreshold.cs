using System.Numerics;
using System.Runtime.CompilerServices;
using EvoQuant.Numerics;

namespace EvoQuant.Calibration;

/// <summary>The KL-divergence threshold search of the reference tool (TensorRT's entropy calibration as
/// ONNX Runtime implements it): for each candidate window [zero - i, zero + i + 1) of a histogram
/// centred on 0, P is the window with the outliers folded into its edge bins, Q merges the window
/// into <c>quantizedBins</c> bins and expands them back over the non-zero bins of P (integer
/// division, as the reference does), both get zero bins smoothed (eps 1e-4), and the window with the
/// smallest KL(P||Q) wins. Naively that is O(bins^2); here prefix sums make each candidate O(quantizedBins),
/// and the per-block work is vector arithmetic with one vector log per candidate.</summary>
internal static class EntropyThreshold
{
    private const double Eps = 1e-4;
    private static readonly double LogEps = Math.Log(Eps);

    /// <summary>Chosen (lo, hi) edges for a histogram with <paramref name="hist"/>.Length + 1 edges
    /// lo0 + j * width. Candidate windows have at least <paramref name="minHalfWidth"/> bins on each side
    /// of the centre (and always quantizedBins / 2). Returns the full range when the histogram is too small
    /// to search.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per tensor: no time to tier up
    public static (double Lo, double Hi) Find(ReadOnlySpan<long> hist, double lo0, double width, int quantizedBins, int minHalfWidth = 0)
    {
        int n = hist.Length;
        int zero = n / 2, halfQ = quantizedBins / 2;
        long total = 0;
        foreach (long v in hist) total += v;
        if (zero < halfQ || total == 0 || quantizedBins < 2) return (lo0, lo0 + n * width);
        // Past 2^52 values (petabytes of activations) block sums in double would no longer divide exactly.
        if (total >= 1L << 52) { var (nlo, nhi, _) = FindNaive(hist, lo0, width, quantizedBins, minHalfWidth); return (nlo, nhi); }

        var search = new Search(hist, quantizedBins, total);
        double best = double.PositiveInfinity;
        int first = Math.Min(zero, Math.Max(halfQ, minHalfWidth));
        int bestI = first;
        for (int i = first; i <= zero; i++)
        {
            double kl = search.Divergence(zero - i, Math.Min(zero + i + 1, n));
            if (kl < best) { best = kl; bestI = i; } // strict: the first minimum wins, as argmin does
        }
        int start = zero - bestI, end = Math.Min(zero + bestI + 1, n);
        return (lo0 + start * width, lo0 + end * width);
    }

    /// <summary>Prefix sums of one histogram and the per-block rows reused across its candidates.</summary>
    private sealed class Search
    {
        private readonly long[] _h;
        private readonly int _qBins;
        private readonly long _total;
        private readonly double _logTotal;
        // Prefix sums: counts, non-zero bins, sum h*log(h), sum log(h) over non-zero bins.
        private readonly long[] _c;
        private readonly int[] _nz;
        private readonly double[] _hl, _lg;
        // Counts and non-zero bins again as doubles (exact below 2^53), interleaved: one cache line serves
        // both reads of a block edge in the hot loop.
        private readonly double[] _edges;
        // Per block: sums without outliers or remainder bins, non-zero bins of P, p' summed, q then log q'
        // (three more slots take the logs of the two edge bins of P and of sum q').
        private readonly double[] _sums, _norm, _pBlock, _q;

        public Search(ReadOnlySpan<long> hist, int qBins, long total)
        {
            int n = hist.Length;
            _h = hist.ToArray();
            _qBins = qBins;
            _total = total;
            _logTotal = Math.Log(total);
            _c = new long[n + 1];
            _nz = new int[n + 1];
            _hl = new double[n + 1];
            _lg = new double[n + 1];
            _edges = new double[2 * (n + 1)];
            for (int j = 0; j < n; j++)
            {
                long h = hist[j];
                _c[j + 1] = _c[j] + h;
                _nz[j + 1] = _nz[j] + (h != 0 ? 1 : 0);
                double log = h > 0 ? Math.Log(h) : 0;
                _hl[j + 1] = _hl[j] + h * log;
                _lg[j + 1] = _lg[j] + log;
                _edges[2 * j + 2] = _c[j + 1];
                _edges[2 * j + 3] = _nz[j + 1];
            }
            _sums = new double[qBins];
            _norm = new double[qBins];
            _pBlock = new double[qBins];
            // Padded with ones to whole vectors: the log then has no scalar rest.
            _q = new double[(qBins + 3 + Vector<double>.Count - 1) / Vector<double>.Count * Vector<double>.Count];
            Array.Fill(_q, 1.0);
        }

        /// <summary>KL(P||Q) for the window [start, end) of the histogram.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public double Divergence(int start, int end)
        {
            int qBins = _qBins, len = end - start, m = len / qBins;
            if (m == 0) return double.PositiveInfinity; // from here on len >= qBins >= 2
            int rem = len - qBins * m, last = qBins - 1;
            long[] c = _c;
            int[] nz = _nz;
            long left = c[start], right = c[_h.Length] - c[end];
            long p0 = _h[start] + left, pLast = _h[end - 1] + right;
            // Non-zero bins of P: the window's, with its edge bins corrected for the outliers folded in.
            int edgeFix0 = (p0 != 0 ? 1 : 0) - (_h[start] != 0 ? 1 : 0);
            int edgeFixLast = (pLast != 0 ? 1 : 0) - (_h[end - 1] != 0 ? 1 : 0);
            int nnzP = nz[end] - nz[start] + edgeFix0 + edgeFixLast;
            if (nnzP == 0) return double.PositiveInfinity;
            double eps1P = Eps * (len - nnzP) / nnzP;
            if (eps1P >= 1) return double.PositiveInfinity;

            // sum p' log p' over the interior bins by prefix sums, with a first-order correction for the
            // -eps1 smoothing ((h - e) log(h - e) = h log h - e (log h + 1) + O(e^2 / h)); the two edge
            // bins exactly, once their logs are taken below.
            int a = start + 1, b = end - 1;
            int interiorNz = nz[b] - nz[a];
            double sumPlogP = (_hl[b] - _hl[a]) - eps1P * ((_lg[b] - _lg[a]) + interiorNz) + (b - a - interiorNz) * Eps * LogEps;

            // Q: per merged block a constant value over the block; bins past qBins * m stay 0.
            double[] sums = _sums, norm = _norm, pBlock = _pBlock, q = _q, edges = _edges;
            double cPrev = edges[2 * start], nPrev = edges[2 * start + 1];
            for (int k = 0, at = 2 * (start + m); k < qBins; k++, at += 2 * m)
            {
                double cNext = edges[at], nNext = edges[at + 1];
                sums[k] = cNext - cPrev;
                norm[k] = nNext - nPrev;
                (cPrev, nPrev) = (cNext, nNext);
            }
            bool lastHoldsEdge = rem == 0; // the last bin of P is in the last block, not past the blocks
            norm[0] += edgeFix0;
            if (lastHoldsEdge) norm[last] += edgeFixLast;

            // q = trunc(sum / norm) as the reference's int64 array holds it (0 where norm is 0); the last
            // block's sum also takes the remainder bins. p' per block: zero bins smoothed up by eps, the
            // others down by eps1P.
            var vZero = Vector<double>.Zero;
            var vM = new Vector<double>(m);
            var vEps = new Vector<double>(Eps);
            var vEps1P = new Vector<double>(eps1P);
            var zeroLanes = Vector<double>.Zero;
            var qLanes = Vector<double>.Zero;
            int w = Vector<double>.Count, full = qBins - qBins % w;
            for (int k = 0; k < full; k += w)
            {
                var sum = new Vector<double>(sums, k);
                var nrm = new Vector<double>(norm, k);
                var quot = Vector.ConditionalSelect(Vector.GreaterThan(nrm, vZero), Vector.Floor(sum / nrm), vZero);
                quot.CopyTo(q, k);
                zeroLanes += Vector.ConditionalSelect(Vector.Equals(quot, vZero), Vector<double>.One, vZero);
                qLanes += quot;
                (sum + vEps * (vM - nrm) - vEps1P * nrm).CopyTo(pBlock, k);
            }
            double zeroBlocks = Vector.Sum(zeroLanes), sumQBlocks = Vector.Sum(qLanes);
            for (int k = full; k < qBins; k++)
            {
                q[k] = norm[k] > 0 ? Math.Floor(sums[k] / norm[k]) : 0;
                if (q[k] == 0) zeroBlocks++;
                sumQBlocks += q[k];
                pBlock[k] = sums[k] + Eps * (m - norm[k]) - eps1P * norm[k];
            }
            pBlock[0] += left;
            if (lastHoldsEdge) pBlock[last] += right;
            long remSum = c[end] - c[start + qBins * m];
            if (remSum != 0 && norm[last] > 0)
            {
                double old = q[last];
                q[last] = Math.Floor((sums[last] + remSum) / norm[last]);
                zeroBlocks += (q[last] == 0 ? 1 : 0) - (old == 0 ? 1 : 0);
                sumQBlocks += q[last] - old;
            }
            double sumQ = sumQBlocks * m;
            int zerosQ = rem + (int)zeroBlocks * m;
            int nnzQ = len - zerosQ;
            if (nnzQ == 0) return double.PositiveInfinity;
            double eps1Q = Eps * zerosQ / nnzQ;
            if (eps1Q >= 1) return double.PositiveInfinity;

            // q' = q - eps1Q where q > 0, eps elsewhere; then one vector log over the blocks and the three
            // extra slots (the edge bins of P, smoothed, and sum q').
            var vEps1Q = new Vector<double>(eps1Q);
            for (int k = 0; k < full; k += w)
            {
                var qv = new Vector<double>(q, k);
                Vector.ConditionalSelect(Vector.GreaterThan(qv, vZero), qv - vEps1Q, vEps).CopyTo(q, k);
            }
            for (int k = full; k < qBins; k++) q[k] = q[k] > 0 ? q[k] - eps1Q : Eps;
            double edge0 = p0 > 0 ? p0 - eps1P : Eps, edgeLast = pLast > 0 ? pLast - eps1P : Eps;
            q[qBins] = edge0;
            q[qBins + 1] = edgeLast;
            q[qBins + 2] = sumQ;
            VectorLog.LogInPlace(q);
            sumPlogP += edge0 * q[qBins] + edgeLast * q[qBins + 1];
            var dot = Vector<double>.Zero;
            for (int k = 0; k < full; k += w) dot += new Vector<double>(pBlock, k) * new Vector<double>(q, k);
            double sumPlogQ = Vector.Sum(dot);
            for (int k = full; k < qBins; k++) sumPlogQ += pBlock[k] * q[k];
            if (rem > 0)
            {
                // The remainder bins (Q is 0 there) hold P's last bin with the right outliers.
                int nzRem = nz[end] - nz[start + qBins * m] + edgeFixLast;
                double pRem = remSum + right + Eps * (rem - nzRem) - eps1P * nzRem;
                sumPlogQ += pRem * LogEps;
            }
            // Smoothing keeps the sums: sum p' = total, sum q' = sumQ.
            return (sumPlogP - sumPlogQ) / _total - _logTotal + q[qBins + 2];
        }
    }

    /// <summary>The same search written the obvious O(bins^2) way, bin by bin (the specification the
    /// fast version is tested against).</summary>
    internal static (double Lo, double Hi, double[] Divergences) FindNaive(ReadOnlySpan<long> hist, double lo0, double width, int quantizedBins, int minHalfWidth = 0)
    {
        int n = hist.Length, zero = n / 2, halfQ = quantizedBins / 2;
        if (zero < halfQ) return (lo0, lo0 + n * width, Array.Empty<double>());
        var kls = new double[zero - halfQ + 1];
        Array.Fill(kls, double.PositiveInfinity);
        for (int i = Math.Min(zero, Math.Max(halfQ, minHalfWidth)); i <= zero; i++)
        {
            int start = zero - i, end = Math.Min(zero + i + 1, n), len = end - start;
            var sliced = hist.Slice(start, len).ToArray();
            var p = (long[])sliced.Clone();
            long left = 0, right = 0;
            for (int j = 0; j < start; j++) left += hist[j];
            for (int j = end; j < n; j++) right += hist[j];
            p[0] += left;
            p[^1] += right;
            int m = len / quantizedBins;
            var merged = new long[quantizedBins];
            for (int b = 0; b < quantizedBins; b++)
                for (int j = b * m; j < (b + 1) * m; j++) merged[b] += sliced[j];
            for (int j = quantizedBins * m; j < len; j++) merged[^1] += sliced[j];
            var q = new long[len];
            for (int b = 0; b < quantizedBins; b++)
            {
                int norm = 0;
                for (int j = b * m; j < (b + 1) * m; j++) norm += p[j] != 0 ? 1 : 0;
                if (norm != 0) for (int j = b * m; j < (b + 1) * m; j++) q[j] = merged[b] / norm;
            }
            var ps = Smooth(p);
            var qs = Smooth(q);
            if (ps == null || qs == null) { kls[i - halfQ] = double.PositiveInfinity; continue; }
            double sp = ps.Sum(), sq = qs.Sum(), kl = 0;
            for (int j = 0; j < len; j++)
            {
                double a = ps[j] / sp, b = qs[j] / sq;
                if (a > 0) kl += a * Math.Log(a / b);
            }
            kls[i - halfQ] = kl;
        }
        int best = 0;
        for (int k = 1; k < kls.Length; k++) if (kls[k] < kls[best]) best = k;
        int bi = best + halfQ;
        return (lo0 + (zero - bi) * width, lo0 + Math.Min(zero + bi + 1, n) * width, kls);
    }

    private static double[]? Smooth(long[] p)
    {
        int zeros = p.Count(v => v == 0), nonZeros = p.Length - zeros;
        if (nonZeros == 0) return null;
        double eps1 = Eps * zeros / nonZeros;
        if (eps1 >= 1) return null;
        return p.Select(v => v == 0 ? Eps : v - eps1).ToArray();
    }
}
