using System.Numerics.Tensors;
using EvoQuant.Numerics;

namespace EvoQuant.Quantization.WeightOnly;

/// <summary>GPTQ (Frantar et al., 2022): quantizes a [K, N] MatMul weight one input channel (row k, all N
/// outputs) at a time and spreads each row's rounding error over the rows not yet quantized, weighted by
/// the inverse Hessian of the layer's output error, so that ||X W - X Wq||² stays small on the calibration
/// inputs X. The Hessian is the input Gram matrix XᵀX (the factor 2/rows of the paper cancels out).</summary>
/// <remarks>
/// <para>Each block of <see cref="BlockQuantizationSpec.BlockSize"/> rows gets its scales and zero points
/// (<see cref="BlockScales"/>, per output column) when its first row comes up, from the weights as the
/// errors of earlier rows have left them. Inputs never seen in calibration (XᵀX[k,k] = 0) give their row no
/// error to spread and take no error from others: their weights are rounded as they are (the paper zeroes
/// them; we keep them, since an input unseen in calibration may still be used).</para>
/// <para>The error propagation needs U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU): row k of U holds
/// how row k's error moves the later rows. It is computed without forming H⁻¹: with J the index reversal,
/// J H J = L Lᵀ (Cholesky) gives U = J L⁻¹ J, and reversing both indices of a row-major matrix is reversing
/// its storage. Rows are processed in lazy batches: inside a batch the error is applied row by row, to the
/// rest of the matrix once per batch (the bulk of the work: K²N/2 multiply-adds, in double).</para>
/// <para><see cref="ActOrder"/> processes rows by decreasing H[k,k] (the most used inputs first, when most
/// later rows are left to absorb their error). MatMulNBits stores scales for fixed contiguous blocks of K,
/// so with act-order every block's scales are chosen up front from the original weights (static groups)
/// rather than when the block begins.</para>
/// </remarks>
public sealed class GptqMethod : IWeightOnlyMethod
{
    public static GptqMethod Default { get; } = new();

    public string Name => "GPTQ";

    public bool NeedsInputStatistics => true;

    /// <summary>Added to the Hessian's diagonal, as a fraction of its mean diagonal (0.01 as the paper).
    /// It keeps H invertible and limits how far errors are pushed; raised tenfold (up to 3 times) when the
    /// Cholesky factorization still fails.</summary>
    public double DampingFraction { get; init; } = 0.01;

    /// <summary>Rows per lazy batch (rounded up to a whole number of blocks, so a block's rows have all
    /// earlier errors when its scales are chosen).</summary>
    public int LazyBatchSize { get; init; } = 128;

    /// <summary>Process input channels by decreasing Hessian diagonal, scales fixed up front (see remarks).</summary>
    public bool ActOrder { get; init; }

    public BlockQuantizedMatrix Quantize(ReadOnlySpan<float> weight, int rows, int columns, BlockQuantizationSpec spec, InputStatistics? statistics)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        if (rows < 1 || columns < 1 || weight.Length != (long)rows * columns)
            throw new ArgumentException($"{weight.Length} values are not a [{rows}, {columns}] matrix.", nameof(weight));
        if (statistics == null) throw new ArgumentNullException(nameof(statistics), "GPTQ needs the statistics of the weight's input (its Gram matrix).");
        if (statistics.Channels != rows)
            throw new ArgumentException($"The input statistics have {statistics.Channels} channels; the weight has {rows} input rows.", nameof(statistics));
        if (!(DampingFraction >= 0) || LazyBatchSize < 1) throw new InvalidOperationException("DampingFraction must be >= 0 and LazyBatchSize >= 1.");

        int k = rows, n = columns, bs = spec.BlockSize, blocks = (k + bs - 1) / bs;
        int[] order = ProcessingOrder(statistics, k);
        double[] u = InverseHessianFactor(statistics, order);

        // Work copy of W in processing order, in double: the error updates accumulate there.
        var w = new double[(long)k * n];
        for (int i = 0; i < k; i++)
        {
            var src = weight.Slice(order[i] * n, n);
            var dst = w.AsSpan(i * n, n);
            for (int c = 0; c < n; c++) dst[c] = src[c];
        }

        var codes = BlockQuantizedMatrix.NewPackedCodes(k, n, spec);
        long padded = BlockQuantizedMatrix.PaddedRows(k, spec);
        var scales = new float[(long)blocks * n];
        var zeroPoints = new byte[(long)blocks * n];
        if (ActOrder) ChooseStaticScales(weight, k, n, spec, scales, zeroPoints);

        int batch = (Math.Max(LazyBatchSize, bs) + bs - 1) / bs * bs;
        var err = new double[(long)batch * n];
        for (int b0 = 0; b0 < k; b0 += batch)
        {
            int b1 = Math.Min(k, b0 + batch);
            for (int i = b0; i < b1; i++)
            {
                int source = order[i], block = source / bs;
                if (!ActOrder && i % bs == 0) ChooseScales(w, i, Math.Min(k, i + bs), n, block, blocks, spec, scales, zeroPoints);
                var row = w.AsSpan(i * n, n);
                var e = err.AsSpan((i - b0) * n, n);
                double pivot = u[(long)i * k + i];
                for (int c = 0; c < n; c++)
                {
                    long at = (long)c * blocks + block;
                    float scale = scales[at];
                    int zp = zeroPoints[at];
                    byte q = BlockScales.Code(row[c], scale, zp, spec.MaxCode);
                    BlockQuantizedMatrix.SetCode(codes, c * padded + source, spec.Bits, q);
                    e[c] = (row[c] - BlockScales.Value(q, scale, zp)) / pivot;
                }
                var uRow = u.AsSpan(i * k, k);
                for (int j = i + 1; j < b1; j++)
                    if (uRow[j] != 0) TensorPrimitives.MultiplyAdd<double>(e, -uRow[j], w.AsSpan(j * n, n), w.AsSpan(j * n, n));
            }
            PropagateBatch(w, u, err, k, n, b0, b1);
        }
        return new BlockQuantizedMatrix(k, n, spec, codes, scales, zeroPoints);
    }

    // Rows b1.. take the errors of rows b0..b1-1: W[j] -= Σ_i U[i, j] · Err[i]. Each row j is independent,
    // updated in the same order on any thread, so the result does not depend on the parallelism.
    private static void PropagateBatch(double[] w, double[] u, double[] err, int k, int n, int b0, int b1)
    {
        int rest = k - b1;
        if (rest <= 0) return;
        void UpdateRow(int j)
        {
            var target = w.AsSpan(j * n, n);
            for (int i = b0; i < b1; i++)
            {
                double c = u[(long)i * k + j];
                if (c != 0) TensorPrimitives.MultiplyAdd<double>(err.AsSpan((i - b0) * n, n), -c, target, target);
            }
        }
        if ((long)rest * (b1 - b0) * n >= 1 << 20 && Environment.ProcessorCount > 1)
            Parallel.For(b1, k, UpdateRow);
        else
            for (int j = b1; j < k; j++) UpdateRow(j);
    }

    // Scales of one block from the rows [r0, r1) of the work matrix (already in source order without act-order).
    private static void ChooseScales(double[] w, int r0, int r1, int n, int block, int blocks, BlockQuantizationSpec spec, float[] scales, byte[] zeroPoints)
    {
        for (int c = 0; c < n; c++)
        {
            double lo = 0, hi = 0;
            for (int r = r0; r < r1; r++)
            {
                double v = w[(long)r * n + c];
                if (v < lo) lo = v;
                if (v > hi) hi = v;
                if (double.IsNaN(v)) lo = hi = double.NaN;
            }
            var (scale, zp) = BlockScales.Choose(lo, hi, spec);
            scales[(long)c * blocks + block] = scale;
            zeroPoints[(long)c * blocks + block] = zp;
        }
    }

    private static void ChooseStaticScales(ReadOnlySpan<float> weight, int k, int n, BlockQuantizationSpec spec, float[] scales, byte[] zeroPoints)
    {
        int bs = spec.BlockSize, blocks = (k + bs - 1) / bs;
        var column = new float[bs];
        for (int b = 0; b < blocks; b++)
        {
            int r0 = b * bs, r1 = Math.Min(k, r0 + bs);
            for (int c = 0; c < n; c++)
            {
                for (int r = r0; r < r1; r++) column[r - r0] = weight[r * n + c];
                var (scale, zp) = BlockScales.Choose(column.AsSpan(0, r1 - r0), spec);
                scales[(long)c * blocks + b] = scale;
                zeroPoints[(long)c * blocks + b] = zp;
            }
        }
    }

    // Source row of each processing step: in order, or by decreasing Gram diagonal (ties by index).
    private int[] ProcessingOrder(InputStatistics statistics, int k)
    {
        var order = Enumerable.Range(0, k).ToArray();
        if (ActOrder)
        {
            var gram = statistics.Gram;
            order = order.OrderByDescending(i => gram[(long)i * k + i]).ThenBy(i => i).ToArray();
        }
        return order;
    }

    /// <summary>U, the upper Cholesky factor of the damped H⁻¹, in processing order ([K, K] row-major).</summary>
    internal double[] InverseHessianFactor(InputStatistics statistics, int[] order)
    {
        int k = statistics.Channels;
        var gram = statistics.Gram;
        double meanDiagonal = 0;
        for (int i = 0; i < k; i++) meanDiagonal += gram[(long)i * k + i];
        meanDiagonal /= k;
        if (!(meanDiagonal > 0)) meanDiagonal = 1; // no statistics at all: H = I, GPTQ rounds like RTN
        var h = new double[(long)k * k];
        double damping = DampingFraction;
        for (int attempt = 0; attempt < 4; attempt++, damping = Math.Max(damping * 10, 1e-6))
        {
            for (int i = 0; i < k; i++)
            {
                long src = (long)order[i] * k;
                for (int j = 0; j < k; j++) h[(long)i * k + j] = gram[src + order[j]];
                long d = (long)i * k + i;
                // A dead input (never nonzero in calibration): a unit diagonal decouples it from the others.
                if (h[d] == 0) h[d] = 1;
                h[d] += damping * meanDiagonal;
            }
            Array.Reverse(h); // J H J
            if (!Cholesky.FactorLower(h, k)) continue;
            Cholesky.InvertLower(h, k);
            Array.Reverse(h); // J L⁻¹ J = U
            return h;
        }
        throw new QuantizationException($"GPTQ could not factor the Hessian of a {k}-input MatMul even with damping {damping / 10:g3} of its mean diagonal: its input statistics hold non-finite values.");
    }
}
