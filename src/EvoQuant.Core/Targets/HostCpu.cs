using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EvoQuant.Targets;

/// <summary>The CPU a timing ran on: its model name, processor counts, and the instruction sets that
/// decide how fast integer inference is (AVX2, AVX-512, VNNI on x86; NEON dot product, I8MM on Arm).</summary>
/// <remarks>On Linux the model name and the instruction sets come from /proc/cpuinfo: they describe the
/// CPU itself, which is what ONNX Runtime's kernels dispatch on. Elsewhere the name comes from the
/// registry (Windows) and the instruction sets from what .NET reports (System.Runtime.Intrinsics), which
/// can be narrower when the runtime is told to disable some (DOTNET_EnableAVX512F=0 and the like).</remarks>
public sealed record HostCpu
{
    /// <summary>The CPU's model name ("AMD EPYC 7763 64-Core Processor"), or the architecture when unknown.</summary>
    public required string Model { get; init; }

    /// <summary>Processor architecture (X64, Arm64, ...).</summary>
    public required string Architecture { get; init; }

    /// <summary>Logical processors this process may use (<see cref="Environment.ProcessorCount"/>).</summary>
    public required int LogicalProcessors { get; init; }

    /// <summary>Physical cores (from /proc/cpuinfo on Linux, capped by <see cref="LogicalProcessors"/>;
    /// elsewhere the logical count).</summary>
    public required int PhysicalCores { get; init; }

    /// <summary>The inference-relevant instruction sets the CPU has, e.g. "AVX2", "FMA", "AVX-512BW",
    /// "AVX-512 VNNI", "AVX-VNNI", "NEON", "DotProd".</summary>
    public required IReadOnlyList<string> InstructionSets { get; init; }

    /// <summary>Where <see cref="InstructionSets"/> came from: "/proc/cpuinfo" or ".NET intrinsics".</summary>
    public required string InstructionSetSource { get; init; }

    /// <summary>Of <see cref="InstructionSets"/>, the ones ONNX Runtime's integer kernels choose between:
    /// AVX2, AVX-512BW, AVX-512 VNNI, AVX-VNNI, AMX-INT8 on x86; NEON, DotProd, I8MM, SVE on Arm.</summary>
    public IReadOnlyList<string> Int8InstructionSets => InstructionSets.Where(Int8Relevant.Contains).ToList();

    private static readonly HashSet<string> Int8Relevant = new(StringComparer.Ordinal)
    {
        "AVX2", "AVX-512BW", "AVX-512 VNNI", "AVX-VNNI", "AMX-INT8", "NEON", "DotProd", "I8MM", "SVE", "SVE2", "SME",
    };

    /// <summary>32-bit sums of 8-bit products (VNNI, AMX, Arm dot product): no pair of products can
    /// saturate, unlike x86's AVX2 kernels (vpmaddubsw).</summary>
    public bool HasInt8DotProduct => InstructionSets.Any(s => s is "AVX-512 VNNI" or "AVX-VNNI" or "AMX-INT8" or "DotProd" or "I8MM");

    /// <summary>The instruction sets joined by ", " ("none detected" when empty).</summary>
    public string InstructionSetText => InstructionSets.Count == 0 ? "none detected" : string.Join(", ", InstructionSets);

    /// <summary>"AMD EPYC 7763 (AVX2, FMA; 2 logical processors)".</summary>
    public override string ToString() =>
        $"{Model} ({InstructionSetText}; {LogicalProcessors} logical processor{(LogicalProcessors == 1 ? "" : "s")})";

    private static readonly Lazy<HostCpu> _current = new(Detect);

    /// <summary>The CPU of this machine (detected once).</summary>
    public static HostCpu Current => _current.Value;

    // /proc/cpuinfo flag → display name, in display order. x86 flags, then Arm "Features".
    private static readonly (string Flag, string Name)[] KnownFlags =
    {
        ("sse4_1", "SSE4.1"), ("avx", "AVX"), ("avx2", "AVX2"), ("fma", "FMA"), ("f16c", "F16C"),
        ("avx512f", "AVX-512F"), ("avx512bw", "AVX-512BW"), ("avx512vl", "AVX-512VL"), ("avx512_vnni", "AVX-512 VNNI"),
        ("avx512_bf16", "AVX-512 BF16"), ("avx512_fp16", "AVX-512 FP16"), ("avx_vnni", "AVX-VNNI"),
        ("amx_int8", "AMX-INT8"), ("amx_bf16", "AMX-BF16"),
        ("asimd", "NEON"), ("asimddp", "DotProd"), ("i8mm", "I8MM"), ("fphp", "FP16"), ("sve", "SVE"), ("sve2", "SVE2"), ("sme", "SME"),
    };

    private static HostCpu Detect()
    {
        string arch = RuntimeInformation.ProcessArchitecture.ToString();
        int logical = Environment.ProcessorCount;
        if (OperatingSystem.IsLinux())
        {
            try
            {
                if (File.Exists("/proc/cpuinfo")) return Parse(File.ReadAllText("/proc/cpuinfo"), arch, logical);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        string? model = null;
        if (OperatingSystem.IsWindows())
        {
            try
            {
                using var key = Microsoft.Win32.Registry.LocalMachine.OpenSubKey(@"HARDWARE\DESCRIPTION\System\CentralProcessor\0");
                model = (key?.GetValue("ProcessorNameString") as string)?.Trim();
            }
            catch (Exception e) when (e is System.Security.SecurityException or UnauthorizedAccessException or IOException) { }
        }
        return new HostCpu
        {
            Model = string.IsNullOrWhiteSpace(model) ? $"{arch} CPU (model unknown)" : model,
            Architecture = arch,
            LogicalProcessors = logical,
            PhysicalCores = logical,
            InstructionSets = FromIntrinsics(),
            InstructionSetSource = ".NET intrinsics",
        };
    }

    /// <summary>A description from the text of /proc/cpuinfo (the first processor's model name and flags;
    /// physical cores as distinct (physical id, core id) pairs).</summary>
    internal static HostCpu Parse(string cpuinfo, string architecture, int logicalProcessors)
    {
        string? model = null, flags = null;
        var cores = new HashSet<(string, string)>();
        string physical = "0";
        foreach (var raw in cpuinfo.Split('\n'))
        {
            int colon = raw.IndexOf(':');
            if (colon < 0) continue;
            string key = raw[..colon].Trim(), value = raw[(colon + 1)..].Trim();
            switch (key)
            {
                case "model name" or "Model" or "Hardware" or "cpu model" when model == null && value.Length > 0:
                    model = value;
                    break;
                case "flags" or "Features" when flags == null:
                    flags = value;
                    break;
                case "physical id":
                    physical = value;
                    break;
                case "core id":
                    cores.Add((physical, value));
                    break;
            }
        }
        var have = new HashSet<string>((flags ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
        var sets = KnownFlags.Where(f => have.Contains(f.Flag)).Select(f => f.Name).ToList();
        int physicalCores = cores.Count > 0 ? Math.Min(cores.Count, logicalProcessors) : logicalProcessors;
        return new HostCpu
        {
            Model = model != null ? CollapseSpaces(model) : $"{architecture} CPU (model unknown)",
            Architecture = architecture,
            LogicalProcessors = logicalProcessors,
            PhysicalCores = Math.Max(1, physicalCores),
            InstructionSets = flags != null ? sets : FromIntrinsics(),
            InstructionSetSource = flags != null ? "/proc/cpuinfo" : ".NET intrinsics",
        };
    }

    /// <summary>The instruction sets .NET says it may use on this machine.</summary>
    internal static IReadOnlyList<string> FromIntrinsics()
    {
        var sets = new List<string>();
        void Add(bool supported, string name) { if (supported) sets.Add(name); }
        Add(Sse41.IsSupported, "SSE4.1");
        Add(Avx.IsSupported, "AVX");
        Add(Avx2.IsSupported, "AVX2");
        Add(Fma.IsSupported, "FMA");
        Add(Avx512F.IsSupported, "AVX-512F");
        Add(Avx512BW.IsSupported, "AVX-512BW");
        Add(Avx512F.VL.IsSupported, "AVX-512VL");
#pragma warning disable CA2252 // AvxVnni is a preview API in .NET 8 on some SDKs; only IsSupported is read
        Add(AvxVnni.IsSupported, "AVX-VNNI");
#pragma warning restore CA2252
        Add(AdvSimd.IsSupported, "NEON");
        Add(Dp.IsSupported, "DotProd");
        return sets;
    }

    private static string CollapseSpaces(string s) => string.Join(' ', s.Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
