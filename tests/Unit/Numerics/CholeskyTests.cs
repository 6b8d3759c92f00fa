using EvoQuant.Numerics;
using Xunit;

namespace EvoQuant.Tests.Numerics;

public class CholeskyTests
{
    // A = B Bᵀ + n I: symmetric positive definite.
    private static double[] SymmetricPositiveDefinite(int n, int seed)
    {
        var r = new Random(seed);
        var b = Enumerable.Range(0, n * n).Select(_ => r.NextDouble() * 2 - 1).ToArray();
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = i == j ? n : 0;
                for (int k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
                a[i * n + j] = s;
            }
        return a;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void TheFactorReproducesTheMatrixAndItsInverseIsOne(int n)
    {
        var a = SymmetricPositiveDefinite(n, seed: n);
        var l = (double[])a.Clone();
        Assert.True(Cholesky.FactorLower(l, n));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (j > i) Assert.Equal(0, l[i * n + j]);
                double s = 0;
                for (int k = 0; k < n; k++) s += l[i * n + k] * l[j * n + k];
                Assert.Equal(a[i * n + j], s, 1e-9 * n);
            }

        var inv = (double[])l.Clone();
        Cholesky.InvertLower(inv, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (j > i) Assert.Equal(0, inv[i * n + j]);
                double s = 0;
                for (int k = 0; k < n; k++) s += inv[i * n + k] * l[k * n + j];
                Assert.Equal(i == j ? 1 : 0, s, 1e-12);
            }
    }

    [Fact]
    public void AMatrixThatIsNotPositiveDefiniteIsReported()
    {
        var a = new double[] { 1, 2, 2, 1 }; // eigenvalues 3 and -1
        Assert.False(Cholesky.FactorLower(a, 2));
        Assert.False(Cholesky.FactorLower(new double[] { 0 }, 1));
    }
}
