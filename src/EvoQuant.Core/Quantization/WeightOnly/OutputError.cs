using System.Numerics.Tensors;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>How much a quantized weight changes its MatMul's output on the calibration inputs, from their
/// Gram matrix alone: ||X W - X Wq||² = Σ_n e_nᵀ G e_n over the columns e_n of E = W - Wq (G = XᵀX), the
/// quantity GPTQ minimises. Relative to ||X W||², it is the per-layer error a report can show (1/SQNR).</summary>
public static class OutputError
{
    /// <summary>(||X(W - Wq)||², ||X W||²) for a [K, N] row-major float weight and its quantized form.</summary>
    public static (double Error, double Signal) Measure(InputStatistics statistics, ReadOnlySpan<float> weight, BlockQuantizedMatrix quantized)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentNullException.ThrowIfNull(quantized);
        int k = quantized.Rows, n = quantized.Columns;
        if (statistics.Channels != k) throw new ArgumentException($"The statistics have {statistics.Channels} channels; the weight has {k} rows.", nameof(statistics));
        if (weight.Length != (long)k * n) throw new ArgumentException($"{weight.Length} values are not a [{k}, {n}] matrix.", nameof(weight));
        var w = new double[(long)k * n];
        var e = new double[(long)k * n];
        var dq = quantized.Dequantize();
        for (long i = 0; i < w.Length; i++)
        {
            w[i] = weight[(int)i];
            e[i] = w[i] - dq[i];
        }
        return (QuadraticForm(statistics.Gram, e, k, n), QuadraticForm(statistics.Gram, w, k, n));
    }

    // Σ_n m_nᵀ G m_n = Σ_i m[i,:] · (Σ_j G[i,j] m[j,:]) for a [K, N] row-major m.
    private static double QuadraticForm(double[] gram, double[] m, int k, int n)
    {
        var gm = new double[n];
        double total = 0;
        for (int i = 0; i < k; i++)
        {
            Array.Clear(gm);
            for (int j = 0; j < k; j++)
            {
                double g = gram[(long)i * k + j];
                if (g != 0) TensorPrimitives.MultiplyAdd<double>(m.AsSpan(j * n, n), g, gm, gm);
            }
            total += TensorPrimitives.Dot<double>(m.AsSpan(i * n, n), gm);
        }
        return total;
    }
}
