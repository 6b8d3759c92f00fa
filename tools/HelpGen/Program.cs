using System.Management.Automation;
using System.Management.Automation.Runspaces;
using EvoQuant.HelpGen;

// HelpGen: docs/help/*.md + the built module -> en-US/EvoQuant.PowerShell.dll-Help.xml; docs/about_*.md ->
// en-US/about_*.help.txt.
//
//   dotnet HelpGen.dll --module out/EvoQuant/EvoQuant.psd1 --source docs/help --about docs --out out/EvoQuant/en-US [--strict]
//
// Problems (a parameter without help, a cmdlet without a help file, fewer than two examples, a documented
// parameter that the cmdlet lacks) are printed in MSBuild's "warning"/"error" format: warnings by default,
// so that a new parameter does not break everyone's build; errors with --strict (build.ps1 -Task Package
// and CI). tests/Unit/PowerShell/HelpTests.cs fails on them in any case.

var opts = Options.Parse(args);
if (opts == null)
{
    Console.Error.WriteLine("usage: HelpGen --module <psd1> --source <help md dir> --about <about md dir> --out <en-US dir> [--strict]");
    return 2;
}

var commands = HelpBuild.LoadCommands(opts.Module);
var problems = new List<string>();
var pairs = HelpBuild.Pair(commands, opts.Source, problems);
Directory.CreateDirectory(opts.Out);
string maml = Path.Combine(opts.Out, HelpBuild.MamlFileName);
MamlWriter.Write(maml, pairs);
Console.WriteLine($"HelpGen: wrote {maml} ({pairs.Count} cmdlets)");
foreach (var about in Directory.GetFiles(opts.About, "about_*.md"))
{
    string target = Path.Combine(opts.Out, Path.GetFileNameWithoutExtension(about) + ".help.txt");
    File.WriteAllText(target, AboutWriter.Convert(File.ReadAllText(about)));
    Console.WriteLine($"HelpGen: wrote {target}");
}
string kind = opts.Strict ? "error" : "warning";
foreach (var p in problems) Console.WriteLine($"{p.Split('|')[0]}: {kind} EQHELP: {p.Split('|')[1]}");
return opts.Strict && problems.Count > 0 ? 1 : 0;

internal sealed record Options(string Module, string Source, string About, string Out, bool Strict)
{
    public static Options? Parse(string[] args)
    {
        string? Get(string name)
        {
            int i = Array.FindIndex(args, a => a.Equals(name, StringComparison.OrdinalIgnoreCase));
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        string? module = Get("--module"), source = Get("--source"), about = Get("--about"), output = Get("--out");
        if (module == null || source == null || about == null || output == null) return null;
        return new Options(Path.GetFullPath(module), Path.GetFullPath(source), Path.GetFullPath(about), Path.GetFullPath(output),
            args.Contains("--strict", StringComparer.OrdinalIgnoreCase));
    }
}

public static class HelpBuild
{
    public const string MamlFileName = "EvoQuant.PowerShell.dll-Help.xml";

    /// <summary>The module's cmdlets as the engine sees them (imported from its manifest).</summary>
    public static List<CmdletMeta> LoadCommands(string manifest)
    {
        var iss = InitialSessionState.CreateDefault2();
        if (OperatingSystem.IsWindows()) iss.ExecutionPolicy = Microsoft.PowerShell.ExecutionPolicy.Bypass;
        using var runspace = RunspaceFactory.CreateRunspace(iss);
        runspace.Open();
        using var ps = PowerShell.Create(runspace);
        ps.AddScript("$m = Import-Module -Name $args[0] -PassThru -ErrorAction Stop; Get-Command -Module $m.Name -CommandType Cmdlet").AddArgument(manifest);
        return ps.Invoke().Select(o => o.BaseObject).OfType<CmdletInfo>().OrderBy(c => c.Name, StringComparer.Ordinal).Select(CmdletMeta.From).ToList();
    }

    /// <summary>Matches each cmdlet to docs/help/&lt;Name&gt;.md and lists what is missing or stale, as
    /// "file|message" strings.</summary>
    public static List<(CmdletMeta, CommandHelpSource)> Pair(IEnumerable<CmdletMeta> commands, string sourceDir, List<string> problems)
    {
        var result = new List<(CmdletMeta, CommandHelpSource)>();
        foreach (var meta in commands)
        {
            string file = Path.Combine(sourceDir, meta.Name + ".md");
            if (!File.Exists(file))
            {
                problems.Add($"{file}|{meta.Name} has no help file.");
                continue;
            }
            var help = MarkdownHelp.Parse(file);
            problems.AddRange(Check(meta, help).Select(m => $"{file}|{m}"));
            result.Add((meta, help));
        }
        return result;
    }

    /// <summary>What makes help incomplete: the rules HelpTests also enforce.</summary>
    public static IEnumerable<string> Check(CmdletMeta meta, CommandHelpSource help)
    {
        if (!string.Equals(help.Name, meta.Name, StringComparison.Ordinal)) yield return $"the title is '{help.Name}', not '{meta.Name}'.";
        if (help.Synopsis.Count == 0) yield return $"{meta.Name} has no SYNOPSIS.";
        if (help.Description.Count == 0) yield return $"{meta.Name} has no DESCRIPTION.";
        if (help.Examples.Count < 2) yield return $"{meta.Name} has {help.Examples.Count} example(s); write at least 2.";
        foreach (var e in help.Examples.Where(e => e.Code.Trim().Length == 0)) yield return $"{meta.Name} example '{e.Title}' has no code.";
        if (help.Inputs.Count == 0) yield return $"{meta.Name} has no INPUTS.";
        if (help.Outputs.Count == 0) yield return $"{meta.Name} has no OUTPUTS.";
        if (help.Links.Count == 0) yield return $"{meta.Name} has no RELATED LINKS.";
        foreach (var p in meta.Parameters)
            if (!help.Parameters.TryGetValue(p.Name, out var ph) || ph.Description.Count == 0)
                yield return $"{meta.Name} -{p.Name} has no help: add '### -{p.Name}' under PARAMETERS.";
        if (!help.IsPlanned)
            foreach (var name in help.Parameters.Keys)
                if (!meta.Parameters.Any(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
                    yield return $"{meta.Name} has no parameter -{name}, but its help documents one.";
    }
}
