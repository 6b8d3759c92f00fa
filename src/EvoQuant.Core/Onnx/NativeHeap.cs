using System.Runtime.InteropServices;

namespace EvoQuant.Onnx;

/// <summary>The native heap ONNX Runtime allocates from. glibc keeps what a session freed for the next
/// allocations (its mmap threshold rises past the first large frees), so after a session over a big model
/// the process keeps its weights' worth resident; <see cref="Trim"/> gives it back. Elsewhere (Windows,
/// macOS, musl) a no-op.</summary>
internal static partial class NativeHeap
{
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Returns the free memory of the native heap to the system (glibc's malloc_trim).</summary>
    public static void Trim()
    {
        if (_unavailable) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
