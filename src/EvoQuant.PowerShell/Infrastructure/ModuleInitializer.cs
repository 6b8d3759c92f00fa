using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>Runs when the module is imported. pwsh knows nothing of ONNX Runtime: it loads our assembly
/// from the module folder, but neither the managed dependencies beside it nor the native onnxruntime
/// library under runtimes/&lt;rid&gt;/native are on any probing path. We resolve both ourselves.</summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    private static int _initialized;

    internal static string ModuleDirectory { get; } = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!;

    public void OnImport()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1) return; // once per process, whatever the runspace count
        AssemblyLoadContext.Default.Resolving += ResolveManagedDependency;
        RegisterNativeResolver();
    }

    private static Assembly? ResolveManagedDependency(AssemblyLoadContext context, AssemblyName name)
    {
        string candidate = Path.Combine(ModuleDirectory, name.Name + ".dll");
        return File.Exists(candidate) ? context.LoadFromAssemblyPath(candidate) : null;
    }

    // Separate method so that the ORT managed assembly is loaded only after the Resolving handler exists.
    private static void RegisterNativeResolver()
    {
        var ortAssembly = typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly;
        try
        {
            NativeLibrary.SetDllImportResolver(ortAssembly, ResolveNative);
        }
        catch (InvalidOperationException)
        {
            // The host already set a resolver for ORT (e.g. it references ORT itself); it wins.
        }
    }

    private static IntPtr ResolveNative(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        foreach (string path in NativeLibraryLocator.Candidates(ModuleDirectory, libraryName))
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out IntPtr handle)) return handle;
        return IntPtr.Zero; // fall back to the default probing
    }
}
