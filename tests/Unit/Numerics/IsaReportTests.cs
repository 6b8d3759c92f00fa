using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Numerics;

/// <summary>Records which vector widths this run exercises (CI reruns the suite with ISAs disabled).</summary>
public class IsaReportTests(ITestOutputHelper output)
{
    [Fact]
    public void ReportsVectorPaths()
    {
        string report = $"V512={Vector512.IsHardwareAccelerated} V256={Vector256.IsHardwareAccelerated} V128={Vector128.IsHardwareAccelerated} " +
                        $"Avx512F={Avx512F.IsSupported} Avx2={Avx2.IsSupported} AvxVnni={AvxVnni.IsSupported}";
        output.WriteLine(report);
        // The widest accelerated width implies the narrower ones.
        Assert.True(!Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated);
        Assert.True(!Vector256.IsHardwareAccelerated || Vector128.IsHardwareAccelerated);
    }
}
