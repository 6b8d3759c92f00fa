using System.Numerics.Tensors;

namespace EvoQuant.Numerics;

/// <summary>Dense Cholesky factorization and triangular inversion of small symmetric positive-definite
/// matrices ([n, n] row-major, in double), in place. Row-oriented so the inner loops are dot products and
/// axpys over contiguous rows (TensorPrimitives). GPTQ's inverse-Hessian factor is built from them.</summary>
public static class Cholesky
{
    /// <summary>Overwrites the lower triangle of <paramref name="a"/> with L such that A = L Lᵀ (the upper
    /// triangle is zeroed). Only the lower triangle of A is read. Returns false when a pivot is not
    /// positive (A not positive definite to working precision); <paramref name="a"/> is then partly overwritten.</summary>
    public static bool FactorLower(Span<double> a, int n)
    {
        if (a.Length != (long)n * n) throw new ArgumentException($"{a.Length} values are not a [{n}, {n}] matrix.", nameof(a));
        for (int i = 0; i < n; i++)
        {
            var rowI = a.Slice(i * n, n);
            for (int j = 0; j <= i; j++)
            {
                double s = rowI[j] - TensorPrimitives.Dot<double>(rowI[..j], a.Slice(j * n, j));
                if (j < i) rowI[j] = s / a[j * n + j];
                else
                {
                    if (!(s > 0) || !double.IsFinite(s)) return false;
                    rowI[i] = Math.Sqrt(s);
                }
            }
            rowI[(i + 1)..].Clear();
        }
        return true;
    }

    /// <summary>Overwrites a lower-triangular <paramref name="l"/> (nonzero diagonal) with its inverse, also lower triangular.</summary>
    public static void InvertLower(Span<double> l, int n)
    {
        if (l.Length != (long)n * n) throw new ArgumentException($"{l.Length} values are not a [{n}, {n}] matrix.", nameof(l));
        var sum = new double[n];
        for (int i = 0; i < n; i++)
        {
            // Row i of L⁻¹: -(Σ_{k<i} L[i,k] · row k of L⁻¹) / L[i,i]; rows above i are already inverted.
            var acc = sum.AsSpan(0, i);
            acc.Clear();
            var rowI = l.Slice(i * n, n);
            for (int k = 0; k < i; k++)
            {
                double c = rowI[k];
                if (c == 0) continue;
                var done = l.Slice(k * n, k + 1);
                TensorPrimitives.MultiplyAdd<double>(done, c, acc[..(k + 1)], acc[..(k + 1)]);
            }
            double d = 1 / rowI[i];
            TensorPrimitives.Multiply<double>(acc, -d, rowI[..i]);
            rowI[i] = d;
        }
    }
}
