using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace EvoQuant.Tests.Support;

/// <summary>A real PowerShell engine (the NuGet System.Management.Automation) with the BUILT module
/// imported from out/EvoQuant by its manifest, as a user's pwsh would.</summary>
public sealed class PowerShellSession : IDisposable
{
    private readonly Runspace _runspace;

    public PowerShellSession()
    {
        var iss = InitialSessionState.CreateDefault2();
        _runspace = RunspaceFactory.CreateRunspace(iss);
        _runspace.Open();
        var r = Run("Import-Module -Name $args[0] -ErrorAction Stop -PassThru", ManifestPath);
        if (r.Errors.Count > 0) throw new InvalidOperationException("Import-Module failed: " + r.Errors[0]);
        Module = (PSModuleInfo)r.Output.Single().BaseObject;
    }

    public static string ManifestPath => Path.Combine(TestData.Require(TestData.ModuleDir), "EvoQuant.psd1");

    public PSModuleInfo Module { get; }

    public sealed record Result(Collection<PSObject> Output, IReadOnlyList<ErrorRecord> Errors, IReadOnlyList<string> Verbose,
        IReadOnlyList<ProgressRecord> Progress, IReadOnlyList<string> Warnings)
    {
        public IEnumerable<T> Objects<T>() => Output.Select(o => o.BaseObject).OfType<T>();
    }

    /// <summary>Runs script text; positional values are available as $args. A terminating error is
    /// returned as the last error, like `$Error[0]` after a failed command.</summary>
    public Result Run(string script, params object?[] args)
    {
        using var ps = System.Management.Automation.PowerShell.Create(_runspace);
        ps.AddScript(script);
        foreach (var a in args) ps.AddArgument(a);
        Collection<PSObject> output;
        var errors = new List<ErrorRecord>();
        try
        {
            output = ps.Invoke();
        }
        catch (RuntimeException e)
        {
            output = new Collection<PSObject>();
            errors.Add(e.ErrorRecord);
        }
        errors.InsertRange(0, ps.Streams.Error);
        return new Result(output, errors, ps.Streams.Verbose.Select(v => v.Message).ToList(),
            ps.Streams.Progress.ToList(), ps.Streams.Warning.Select(w => w.Message).ToList());
    }

    public void Dispose() => _runspace.Dispose();
}
