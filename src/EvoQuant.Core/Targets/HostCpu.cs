using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EvoQuant.Targets;

/// <summary>What this machine's CPU can do for integer inference, read from CPUID (x86) or the runtime's
/// intrinsics (Arm64). CPUID is read directly so that DOTNET_EnableAVX2=0 and similar switches, which
/// only change .NET's own code paths, do not change what ONNX Runtime will do.</summary>
public sealed record HostCpu(
    Architecture Architecture,
    string ModelName,
    bool Avx2,
    bool Avx512BW,
    bool Avx512Vnni,
    bool AvxVnni,
    bool AmxInt8,
    bool ArmDotProduct)
{
    private static readonly Lazy<HostCpu> s_current = new(Detect);

    /// <summary>The CPU of this process, detected once.</summary>
    public static HostCpu Current => s_current.Value;

    /// <summary>32-bit sums of 8-bit products: no pair of products can saturate.</summary>
    public bool HasInt8DotProduct => Avx512Vnni || AvxVnni || AmxInt8 || ArmDotProduct;

    /// <summary>The instruction sets that matter for ONNX Runtime's integer kernels, for reports.</summary>
    public IReadOnlyList<string> InstructionSets
    {
        get
        {
            var list = new List<string>();
            if (Architecture is Architecture.X64 or Architecture.X86)
            {
                if (Avx2) list.Add("AVX2");
                if (Avx512BW) list.Add("AVX-512BW");
                if (Avx512Vnni) list.Add("AVX-512 VNNI");
                if (AvxVnni) list.Add("AVX-VNNI");
                if (AmxInt8) list.Add("AMX-INT8");
            }
            else if (Architecture == Architecture.Arm64)
            {
                list.Add("NEON");
                if (ArmDotProduct) list.Add("DotProd");
            }
            return list;
        }
    }

    /// <summary>For example "AMD EPYC (AVX2)".</summary>
    public override string ToString() => InstructionSets.Count == 0 ? ModelName : $"{ModelName} ({string.Join(", ", InstructionSets)})";

    private static HostCpu Detect()
    {
        var arch = RuntimeInformation.ProcessArchitecture;
        string name = ReadModelName() ?? arch.ToString();
        if (arch is Architecture.X64 or Architecture.X86 && X86Base.IsSupported)
        {
            var (_, ebx7, ecx7, edx7) = X86Base.CpuId(7, 0);
            var (eax71, _, _, _) = X86Base.CpuId(7, 1);
            return new HostCpu(arch, name,
                Avx2: (ebx7 & (1 << 5)) != 0,
                Avx512BW: (ebx7 & (1 << 30)) != 0,
                Avx512Vnni: (ecx7 & (1 << 11)) != 0,
                AvxVnni: (eax71 & (1 << 4)) != 0,
                AmxInt8: (edx7 & (1 << 25)) != 0,
                ArmDotProduct: false);
        }
        return new HostCpu(arch, name, false, false, false, false, false,
            ArmDotProduct: arch == Architecture.Arm64 && Dp.IsSupported);
    }

    private static string? ReadModelName()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return null;
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int i and >= 0)
                    return line[(i + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
