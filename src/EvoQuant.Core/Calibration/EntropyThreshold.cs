namespace EvoQuant.Calibration;

/// <summary>The KL-divergence threshold search of the reference tool (TensorRT's entropy calibration as
/// ONNX Runtime implements it): for each candidate window [zero - i, zero + i + 1) of a histogram
/// centred on 0, P is the window with the outliers folded into its edge bins, Q merges the window
/// into <c>quantizedBins</c> bins and expands them back over the non-zero bins of P (integer
/// division, as the reference does), both get zero bins smoothed (eps 1e-4), and the window with the
/// smallest KL(P||Q) wins. Naively that is O(bins^2); here prefix sums make each candidate O(quantizedBins).</summary>
internal static class EntropyThreshold
{
    private const double Eps = 1e-4;

    /// <summary>Chosen (lo, hi) edges for a histogram with <paramref name="hist"/>.Length + 1 edges
    /// lo0 + j * width. Candidate windows have at least <paramref name="minHalfWidth"/> bins on each side
    /// of the centre (and always quantizedBins / 2). Returns the full range when the histogram is too small
    /// to search.</summary>
    public static (double Lo, double Hi) Find(ReadOnlySpan<long> hist, double lo0, double width, int quantizedBins, int minHalfWidth = 0)
    {
        int n = hist.Length;
        int zero = n / 2, halfQ = quantizedBins / 2;
        long total = 0;
        foreach (long v in hist) total += v;
        if (zero < halfQ || total == 0 || quantizedBins < 2) return (lo0, lo0 + n * width);

        // Prefix sums: counts, non-zero bins, sum h*log(h), sum log(h) over non-zero bins.
        var c = new long[n + 1];
        var nz = new int[n + 1];
        var hl = new double[n + 1];
        var lg = new double[n + 1];
        for (int j = 0; j < n; j++)
        {
            long h = hist[j];
            c[j + 1] = c[j] + h;
            nz[j + 1] = nz[j] + (h != 0 ? 1 : 0);
            double log = h > 0 ? Math.Log(h) : 0;
            hl[j + 1] = hl[j] + h * log;
            lg[j + 1] = lg[j] + log;
        }

        double best = double.PositiveInfinity;
        int first = Math.Min(zero, Math.Max(halfQ, minHalfWidth));
        int bestI = first;
        for (int i = first; i <= zero; i++)
        {
            double kl = Divergence(hist, c, nz, hl, lg, zero - i, Math.Min(zero + i + 1, n), quantizedBins, total);
            if (kl < best) { best = kl; bestI = i; } // strict: the first minimum wins, as argmin does
        }
        int start = zero - bestI, end = Math.Min(zero + bestI + 1, n);
        return (lo0 + start * width, lo0 + end * width);
    }

    private static double Divergence(ReadOnlySpan<long> h, long[] c, int[] nz, double[] hl, double[] lg,
        int start, int end, int qBins, long total)
    {
        int len = end - start;
        long left = c[start], right = c[h.Length] - c[end];
        long p0 = h[start] + left, pLast = h[end - 1] + right;
        if (len == 1) p0 = pLast = total;
        int firstNz = h[start] != 0 ? 1 : 0, lastNz = h[end - 1] != 0 ? 1 : 0;

        // Non-zero bins of P with the edge bins corrected for the outliers folded into them.
        int NonZero(int a, int b) // slice positions [a, b)
        {
            int k = nz[start + b] - nz[start + a];
            if (a == 0 && b > 0) k += (p0 != 0 ? 1 : 0) - firstNz;
            if (a <= len - 1 && len - 1 < b && len > 1) k += (pLast != 0 ? 1 : 0) - lastNz;
            return k;
        }
        long SumP(int a, int b)
        {
            long s = c[start + b] - c[start + a];
            if (a == 0 && b > 0) s += left;
            if (a <= len - 1 && len - 1 < b && len > 1) s += right;
            return s;
        }

        int nnzP = NonZero(0, len);
        int zerosP = len - nnzP;
        if (nnzP == 0) return double.PositiveInfinity;
        double eps1P = Eps * zerosP / nnzP;
        if (eps1P >= 1) return double.PositiveInfinity;

        // sum p' log p': interior bins by prefix sums with a first-order correction for the -eps1
        // smoothing ((h - e) log(h - e) = h log h - e (log h + 1) + O(e^2 / h)); edge bins exactly.
        double PlogP(long p) => p > 0 ? (p - eps1P) * Math.Log(p - eps1P) : Eps * Math.Log(Eps);
        double sumPlogP;
        if (len >= 2)
        {
            int a = start + 1, b = end - 1; // interior global range [a, b)
            int interiorNz = b > a ? nz[b] - nz[a] : 0;
            int interiorZeros = Math.Max(0, b - a) - interiorNz;
            sumPlogP = b > a ? (hl[b] - hl[a]) - eps1P * ((lg[b] - lg[a]) + interiorNz) : 0;
            sumPlogP += interiorZeros * Eps * Math.Log(Eps) + PlogP(p0) + PlogP(pLast);
        }
        else sumPlogP = PlogP(p0);

        // Q: per merged block a constant value over the block; bins past qBins * m stay 0.
        int m = len / qBins;
        if (m == 0) return double.PositiveInfinity;
        Span<long> q = qBins <= 1024 ? stackalloc long[qBins] : new long[qBins];
        Span<int> norm = qBins <= 1024 ? stackalloc int[qBins] : new int[qBins];
        int zerosQ = len - qBins * m;
        long sumQ = 0;
        for (int b = 0; b < qBins; b++)
        {
            long merged = c[start + (b + 1) * m] - c[start + b * m];
            if (b == qBins - 1) merged += c[end] - c[start + qBins * m];
            norm[b] = NonZero(b * m, (b + 1) * m);
            q[b] = norm[b] != 0 ? merged / norm[b] : 0; // the reference truncates into an int64 array
            if (q[b] == 0) zerosQ += m;
            sumQ += q[b] * m;
        }
        int nnzQ = len - zerosQ;
        if (nnzQ == 0) return double.PositiveInfinity;
        double eps1Q = Eps * zerosQ / nnzQ;
        if (eps1Q >= 1) return double.PositiveInfinity;

        double sumPlogQ = 0, logEps = Math.Log(Eps);
        for (int b = 0; b < qBins; b++)
        {
            double pBlock = SumP(b * m, (b + 1) * m) + Eps * (m - norm[b]) - eps1P * norm[b];
            double logQ = q[b] > 0 ? Math.Log(q[b] - eps1Q) : logEps;
            sumPlogQ += pBlock * logQ;
        }
        int rem = len - qBins * m;
        if (rem > 0)
        {
            int nzRem = NonZero(qBins * m, len);
            double pRem = SumP(qBins * m, len) + Eps * (rem - nzRem) - eps1P * nzRem;
            sumPlogQ += pRem * logEps;
        }
        // Smoothing keeps the sums: sum p' = total, sum q' = sumQ.
        return (sumPlogP - sumPlogQ) / total - Math.Log(total) + Math.Log(sumQ);
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
