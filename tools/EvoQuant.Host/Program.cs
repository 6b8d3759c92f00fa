using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

// A minimal PowerShell host for machines without pwsh: the NuGet engine, the built module imported
// as pwsh would import it, and a script (or -Command text) run through it. It references neither
// EvoQuant nor ONNX Runtime, so it also proves the module finds its own native libraries.
//
//   dotnet run --project tools/EvoQuant.Host -- examples/quantize-fashion.ps1
//   dotnet run --project tools/EvoQuant.Host -- -Command "Get-OnnxGraph ../shared/models/fashion-cnn.onnx"

if (args.Length == 0 || args[0] is "-h" or "--help" or "-?")
{
    Console.WriteLine("usage: EvoQuant.Host <script.ps1> [arguments...] | -Command <text>  (env EVOQUANT_MODULE overrides the module path)");
    return 2;
}

string modulePath = Environment.GetEnvironmentVariable("EVOQUANT_MODULE") ?? FindModule();
var iss = InitialSessionState.CreateDefault2();
if (OperatingSystem.IsWindows()) iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
using var runspace = RunspaceFactory.CreateRunspace(iss);
runspace.Open();

using var ps = PowerShell.Create(runspace);
ps.AddCommand("Import-Module").AddParameter("Name", modulePath).AddParameter("ErrorAction", "Stop");
ps.Invoke();
ps.Commands.Clear();

if (args[0].Equals("-Command", StringComparison.OrdinalIgnoreCase))
{
    ps.AddScript(string.Join(' ', args.Skip(1)));
}
else
{
    string script = Path.GetFullPath(args[0]);
    if (!File.Exists(script))
    {
        Console.Error.WriteLine($"Script '{script}' not found.");
        return 2;
    }
    ps.AddCommand(script);
    foreach (string a in args.Skip(1)) ps.AddArgument(a);
}

bool hadErrors = false;
ps.Streams.Error.DataAdded += (_, e) =>
{
    var err = ps.Streams.Error[e.Index];
    hadErrors = true;
    Console.Error.WriteLine($"ERROR [{err.FullyQualifiedErrorId}] {err.Exception.Message}");
};
ps.Streams.Warning.DataAdded += (_, e) => Console.Error.WriteLine("WARNING: " + ps.Streams.Warning[e.Index].Message);
ps.Streams.Information.DataAdded += (_, e) => Console.WriteLine(ps.Streams.Information[e.Index].MessageData);
ps.Streams.Verbose.DataAdded += (_, e) => Console.Error.WriteLine("VERBOSE: " + ps.Streams.Verbose[e.Index].Message);
var lastProgress = DateTime.MinValue;
ps.Streams.Progress.DataAdded += (_, e) =>
{
    var p = ps.Streams.Progress[e.Index];
    if (p.RecordType == ProgressRecordType.Completed || (DateTime.UtcNow - lastProgress).TotalSeconds < 1) return;
    lastProgress = DateTime.UtcNow;
    Console.Error.WriteLine($"  [{p.Activity}] {p.StatusDescription}");
};

var output = new PSDataCollection<PSObject>();
output.DataAdded += (_, e) => Console.WriteLine(Render(output[e.Index]));
try
{
    ps.Invoke<PSObject, PSObject>(null, output, new PSInvocationSettings());
}
catch (RuntimeException e)
{
    Console.Error.WriteLine($"ERROR [{e.ErrorRecord?.FullyQualifiedErrorId}] {e.Message}");
    return 1;
}
return hadErrors ? 1 : 0;

// Without the Utility module there is no Format-Table: render like Format-List.
static string Render(PSObject o)
{
    if (o.BaseObject is string or ValueType) return o.ToString();
    var lines = new List<string>();
    int width = o.Properties.Select(p => p.Name.Length).DefaultIfEmpty(0).Max();
    foreach (var p in o.Properties)
    {
        object? v;
        try { v = p.Value; } catch (Exception) { continue; }
        string text = v switch
        {
            null => "",
            string s => s,
            IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object>().Take(8).Select(k => $"{k}={d[k]}")) + (d.Count > 8 ? ", ..." : "") + "}",
            IEnumerable e => "{" + string.Join(", ", e.Cast<object>().Take(8)) + "}",
            _ => v.ToString() ?? "",
        };
        lines.Add($"{p.Name.PadRight(width)} : {text}");
    }
    return string.Join(Environment.NewLine, lines) + Environment.NewLine;
}

static string FindModule()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
    {
        string candidate = Path.Combine(dir.FullName, "out", "EvoQuant", "EvoQuant.psd1");
        if (File.Exists(candidate)) return candidate;
    }
    throw new FileNotFoundException("Cannot find out/EvoQuant/EvoQuant.psd1; build the module first (dotnet build).");
}
