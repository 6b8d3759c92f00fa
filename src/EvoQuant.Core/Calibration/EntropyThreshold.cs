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
/// and the per-block work is vector arithmetic with one vector log per candidate. Candidates whose blocks
/// have the same width m (64 in a row) share their inner blocks' terms: computed once per bin position
/// and summed along positions m apart, each candidate then takes them in O(1) (see <see cref="Search.TryBuildRows"/>).</summary>
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
        int Width(int i) => (Math.Min(zero + i + 1, n) - (zero - i)) / quantizedBins;
        for (int i = first; i <= zero;)
        {
            // The run of candidates i..last whose blocks are m bins wide.
            int m = Width(i), last = i;
            while (last < zero && Width(last + 1) == m) last++;
            bool rows = search.TryBuildRows(m, zero - last, zero - i);
            for (; i <= last; i++)
            {
                int from = zero - i, to = Math.Min(zero + i + 1, n);
                double kl = rows ? search.DivergenceByRows(from, to) : search.Divergence(from, to);
                if (kl < best) { best = kl; bestI = i; } // strict: the first minimum wins, as argmin does
            }
        }
        int start = zero - bestI, end = Math.Min(zero + bestI + 1, n);
        return (lo0 + start * width, lo0 + end * width);
    }

    /// <summary>Prefix sums of one histogram and the per-block rows reused across its candidates.</summary>
    internal sealed class Search
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
        // Inner-block terms for one block width (TryBuildRows): per field, its value at each bin position from
        // _rowsLo on (at index m + position - _rowsLo), summed with the position m before it (the first m
        // indices are zeros). Counts and non-zero bins as doubles, contiguous, for vector loads.
        private const int Fields = 12;
        private readonly double[][] _rows = new double[Fields][];
        private readonly double[] _countsD, _nonZeroD;
        private int _rowsLo, _rowsM;
        // The inner blocks' log(q - eps1Q) is expanded to third order in eps1Q / q (q >= 1): past this eps1Q
        // the candidate is computed block by block instead (the fourth-order term is below 3e-13 of the total).
        private const double SeriesLimit = 1e-3;

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
            _countsD = new double[n + 1];
            _nonZeroD = new double[n + 1];
            for (int j = 0; j < n; j++)
            {
                long h = hist[j];
                _c[j + 1] = _c[j] + h;
                _nz[j + 1] = _nz[j] + (h != 0 ? 1 : 0);
                double log = h > 0 ? Math.Log(h) : 0;
                _hl[j + 1] = _hl[j] + h * log;
                _lg[j + 1] = _lg[j] + log;
                _edges[2 * j + 2] = _countsD[j + 1] = _c[j + 1];
                _edges[2 * j + 3] = _nonZeroD[j + 1] = _nz[j + 1];
            }
            _sums = new double[qBins];
            _norm = new double[qBins];
            _pBlock = new double[qBins];
            // Padded with ones to whole vectors: the log then has no scalar rest.
            _q = new double[(qBins + 3 + Vector<double>.Count - 1) / Vector<double>.Count * Vector<double>.Count];
            Array.Fill(_q, 1.0);
        }

        /// <summary>P's side of a window: the outliers, its edge bins, its smoothing, and sum p' log p' over
        /// the bins between the edge bins.</summary>
        private readonly record struct WindowP(long Left, long Right, long P0, long PLast, int EdgeFix0, int EdgeFixLast, double Eps1P, double InnerPlogP);

        // False when P has no non-zero bin or cannot be smoothed (the candidate's divergence is infinite).
        private bool TryWindowP(int start, int end, out WindowP w)
        {
            long[] c = _c;
            int[] nz = _nz;
            int len = end - start;
            long left = c[start], right = c[_h.Length] - c[end];
            long p0 = _h[start] + left, pLast = _h[end - 1] + right;
            // Non-zero bins of P: the window's, with its edge bins corrected for the outliers folded in.
            int edgeFix0 = (p0 != 0 ? 1 : 0) - (_h[start] != 0 ? 1 : 0);
            int edgeFixLast = (pLast != 0 ? 1 : 0) - (_h[end - 1] != 0 ? 1 : 0);
            int nnzP = nz[end] - nz[start] + edgeFix0 + edgeFixLast;
            double eps1P = nnzP == 0 ? 1 : Eps * (len - nnzP) / nnzP;
            // sum p' log p' over the interior bins by prefix sums, with a first-order correction for the
            // -eps1 smoothing ((h - e) log(h - e) = h log h - e (log h + 1) + O(e^2 / h)); the two edge
            // bins exactly, once their logs are taken.
            int a = start + 1, b = end - 1;
            int interiorNz = nz[b] - nz[a];
            double inner = (_hl[b] - _hl[a]) - eps1P * ((_lg[b] - _lg[a]) + interiorNz) + (b - a - interiorNz) * Eps * LogEps;
            w = new WindowP(left, right, p0, pLast, edgeFix0, edgeFixLast, eps1P, inner);
            return eps1P < 1;
        }

        // sum p' log q' over the bins past qBins * m (Q is 0 there, log eps): they hold P's last bin with the
        // right outliers. 0 when the blocks cover the window.
        private double RemainderPlogQ(int start, int end, int m, long remSum, in WindowP wp)
        {
            int rem = end - start - _qBins * m;
            if (rem == 0) return 0;
            int nzRem = _nz[end] - _nz[start + _qBins * m] + wp.EdgeFixLast;
            return (remSum + wp.Right + Eps * (rem - nzRem) - wp.Eps1P * nzRem) * LogEps;
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
            if (!TryWindowP(start, end, out var wp)) return double.PositiveInfinity;
            var (left, right, p0, pLast, edgeFix0, edgeFixLast, eps1P, sumPlogP) = wp;

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
            sumPlogQ += RemainderPlogQ(start, end, m, remSum, wp);
            // Smoothing keeps the sums: sum p' = total, sum q' = sumQ.
            return (sumPlogP - sumPlogQ) / _total - _logTotal + q[qBins + 2];
        }

        /// <summary>Prepares <see cref="DivergenceByRows"/> for the candidates with blocks of width
        /// <paramref name="m"/> that start at positions <paramref name="startLo"/>..<paramref name="startHi"/>, when
        /// that is cheaper than taking them block by block: the terms of the inner blocks (all but the first and
        /// the last) are computed once per bin position t (block [t, t + m)), and summed with the position m
        /// before, so a candidate's inner blocks (positions start + k m, k = 1 .. qBins - 2) are one difference.
        /// Per block with sum B, non-zero bins N and q = floor(B / N), P's mass is B + eps m - (eps + eps1P) N and
        /// log q' = log(q - eps1Q) = log q - sum_j (eps1Q / q)^j / j for q &gt; 0 (log eps where q = 0): the
        /// fields below are the sums of each factor, so the candidate's own eps1P and eps1Q combine them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool TryBuildRows(int m, int startLo, int startHi)
        {
            int qBins = _qBins;
            if (m == 0 || qBins < 3) return false;
            int lo = startLo, hi = startHi + (qBins - 2) * m, positions = hi - lo + 1;
            // Per candidate and block, the block-by-block search takes a division and a log; building takes
            // them once per position, at about twice the cost.
            if (2L * positions >= (long)(startHi - startLo + 1) * qBins) return false;
            _rowsLo = lo;
            _rowsM = m;
            var rows = _rows;
            if (rows[0] == null || rows[0].Length < m + positions)
            {
                // Doubling, but never past the most any width needs (m + positions <= n + n / 2 + 1): at a
                // million bins a row is megabytes, and twelve of them.
                int most = _h.Length + _h.Length / 2 + 1;
                int size = Math.Max(m + positions, Math.Min(2 * (rows[0]?.Length ?? 0), most));
                for (int f = 0; f < Fields; f++) rows[f] = new double[size];
            }
            foreach (var f in rows) Array.Clear(f, 0, m);
            // Fields where q > 0: 0 mass log q, 1 N log q, 2 mass / q, 3 N / q, 4 mass / q^2, 5 N / q^2,
            // 6 mass / q^3, 7 N / q^3; where q = 0: 8 mass, 9 N, 10 one; and 11 q. In one pass, each value
            // added to the one m positions before.
            double[] counts = _countsD, nonZero = _nonZeroD;
            double epsM = Eps * m;
            int w = Vector<double>.Count, j = 0;
            if (m >= w) // positions m apart are in different vectors
            {
                var zero = Vector<double>.Zero;
                var one = Vector<double>.One;
                var vEpsM = new Vector<double>(epsM);
                for (; j <= positions - w; j += w)
                {
                    int t = lo + j;
                    var b = new Vector<double>(counts, t + m) - new Vector<double>(counts, t);
                    var n = new Vector<double>(nonZero, t + m) - new Vector<double>(nonZero, t);
                    var q = Vector.ConditionalSelect(Vector.GreaterThan(n, zero), Vector.Floor(b / n), zero);
                    var isZero = Vector.Equals(q, zero);
                    var q1 = Vector.Max(q, one);
                    var log = VectorLog.Log(q1); // 0 where q = 0: fields 0 and 1 vanish there
                    var inv = Vector.ConditionalSelect(isZero, zero, one / q1);
                    var mass = b + vEpsM;
                    var mi = mass * inv;
                    var ni = n * inv;
                    Put(rows[0], j, m, mass * log);
                    Put(rows[1], j, m, n * log);
                    Put(rows[2], j, m, mi);
                    Put(rows[3], j, m, ni);
                    Put(rows[4], j, m, mi *= inv);
                    Put(rows[5], j, m, ni *= inv);
                    Put(rows[6], j, m, mi * inv);
                    Put(rows[7], j, m, ni * inv);
                    Put(rows[8], j, m, Vector.ConditionalSelect(isZero, mass, zero));
                    Put(rows[9], j, m, Vector.ConditionalSelect(isZero, n, zero));
                    Put(rows[10], j, m, Vector.ConditionalSelect(isZero, one, zero));
                    Put(rows[11], j, m, q);
                }
            }
            for (; j < positions; j++)
            {
                int t = lo + j;
                double b = counts[t + m] - counts[t], n = nonZero[t + m] - nonZero[t];
                double q = n > 0 ? Math.Floor(b / n) : 0, mass = b + epsM;
                double log = q > 0 ? VectorLog.Log(q) : 0, inv = q > 0 ? 1 / q : 0;
                bool isZero = q == 0;
                rows[0][m + j] = mass * log + rows[0][j];
                rows[1][m + j] = n * log + rows[1][j];
                rows[2][m + j] = mass * inv + rows[2][j];
                rows[3][m + j] = n * inv + rows[3][j];
                rows[4][m + j] = mass * inv * inv + rows[4][j];
                rows[5][m + j] = n * inv * inv + rows[5][j];
                rows[6][m + j] = mass * inv * inv * inv + rows[6][j];
                rows[7][m + j] = n * inv * inv * inv + rows[7][j];
                rows[8][m + j] = (isZero ? mass : 0) + rows[8][j];
                rows[9][m + j] = (isZero ? n : 0) + rows[9][j];
                rows[10][m + j] = (isZero ? 1 : 0) + rows[10][j];
                rows[11][m + j] = q + rows[11][j];
            }
            return true;
        }

        // Stores a vector of fields at positions j.. plus the values m positions before.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(double[] f, int j, int m, Vector<double> v) => (v + new Vector<double>(f, j)).CopyTo(f, m + j);

        /// <summary><see cref="Divergence"/> from the rows <see cref="TryBuildRows"/> made for this candidate's
        /// block width: its inner blocks in O(1), the first and last block exactly.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public double DivergenceByRows(int start, int end)
        {
            int qBins = _qBins, len = end - start, m = len / qBins;
            int rem = len - qBins * m;
            if (!TryWindowP(start, end, out var wp)) return double.PositiveInfinity;
            var (left, right, p0, pLast, edgeFix0, edgeFixLast, eps1P, sumPlogP) = wp;
            double[] edges = _edges;
            // The first block (it holds P's first bin) and the last (P's last bin unless there are remainder
            // bins; its Q also takes the remainder's counts).
            int tLast = start + (qBins - 1) * m;
            double sum0 = edges[2 * (start + m)] - edges[2 * start];
            double norm0 = edges[2 * (start + m) + 1] - edges[2 * start + 1] + edgeFix0;
            double sumLast = edges[2 * (tLast + m)] - edges[2 * tLast];
            double normLast = edges[2 * (tLast + m) + 1] - edges[2 * tLast + 1] + (rem == 0 ? edgeFixLast : 0);
            long remSum = _c[end] - _c[start + qBins * m];
            double q0 = norm0 > 0 ? Math.Floor(sum0 / norm0) : 0;
            double qLast = normLast > 0 ? Math.Floor((sumLast + remSum) / normLast) : 0;

            double[][] rows = _rows;
            int hiRow = _rowsM + start + (qBins - 2) * m - _rowsLo, loRow = _rowsM + start - _rowsLo;
            double zeroBlocks = rows[10][hiRow] - rows[10][loRow] + (q0 == 0 ? 1 : 0) + (qLast == 0 ? 1 : 0);
            double sumQ = (rows[11][hiRow] - rows[11][loRow] + q0 + qLast) * m;
            double zerosQ = rem + zeroBlocks * m;
            double nnzQ = len - zerosQ;
            if (nnzQ == 0) return double.PositiveInfinity;
            double e = Eps * zerosQ / nnzQ;
            if (e >= 1) return double.PositiveInfinity;
            if (e > SeriesLimit) return Divergence(start, end);

            double g = Eps + eps1P;
            // Each field's inner sum is its difference between the last inner block and the first block.
            double f0 = rows[0][hiRow] - rows[0][loRow], f1 = rows[1][hiRow] - rows[1][loRow];
            double f2 = rows[2][hiRow] - rows[2][loRow], f3 = rows[3][hiRow] - rows[3][loRow];
            double f4 = rows[4][hiRow] - rows[4][loRow], f5 = rows[5][hiRow] - rows[5][loRow];
            double f6 = rows[6][hiRow] - rows[6][loRow], f7 = rows[7][hiRow] - rows[7][loRow];
            double f8 = rows[8][hiRow] - rows[8][loRow], f9 = rows[9][hiRow] - rows[9][loRow];
            double sumPlogQ = f0 - g * f1 - e * (f2 - g * f3) - e * e / 2 * (f4 - g * f5) - e * e * e / 3 * (f6 - g * f7)
                + LogEps * (f8 - g * f9);
            double mass0 = sum0 + Eps * (m - norm0) - eps1P * norm0 + left;
            double massLast = sumLast + Eps * (m - normLast) - eps1P * normLast + (rem == 0 ? right : 0);
            sumPlogQ += mass0 * (q0 > 0 ? VectorLog.Log(q0 - e) : LogEps) + massLast * (qLast > 0 ? VectorLog.Log(qLast - e) : LogEps);
            sumPlogQ += RemainderPlogQ(start, end, m, remSum, wp);
            double edge0 = p0 > 0 ? p0 - eps1P : Eps, edgeLast = pLast > 0 ? pLast - eps1P : Eps;
            sumPlogP += edge0 * VectorLog.Log(edge0) + edgeLast * VectorLog.Log(edgeLast);
            return (sumPlogP - sumPlogQ) / _total - _logTotal + VectorLog.Log(sumQ);
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
