using System.Runtime.InteropServices;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Where a native library of the module lives for the current OS and CPU, following NuGet's
/// runtimes/&lt;rid&gt;/native layout that the build copies into the module folder.</summary>
internal static class NativeLibraryLocator
{
    public static string RuntimeIdentifier
    {
        get
        {
            string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            string arch = RuntimeInformation.ProcessArchitecture switch
            {
                Architecture.X64 => "x64",
                Architecture.Arm64 => "arm64",
                Architecture.X86 => "x86",
                var other => other.ToString().ToLowerInvariant(),
            };
            return $"{os}-{arch}";
        }
    }

    public static string FileName(string libraryName) =>
        OperatingSystem.IsWindows() ? libraryName + ".dll"
        : OperatingSystem.IsMacOS() ? "lib" + libraryName + ".dylib"
        : "lib" + libraryName + ".so";

    public static IEnumerable<string> Candidates(string moduleDirectory, string libraryName)
    {
        string file = Path.GetFileName(libraryName).Contains('.') ? libraryName : FileName(libraryName);
        yield return Path.Combine(moduleDirectory, "runtimes", RuntimeIdentifier, "native", file);
        yield return Path.Combine(moduleDirectory, file);
    }
}
