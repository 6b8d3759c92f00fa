using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Xml.Linq;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>The module's format files, statically: they load, they name properties that exist on the types they
/// select, and their tables are sized for 80 columns. How pwsh renders each default view at 80 columns is
/// tests/Pester/Formats.Tests.ps1.</summary>
public sealed class FormatTests
{
    private static string ModuleDir => TestData.Require(TestData.ModuleDir);

    /// <summary>The format files the manifest lists, as shipped in the module folder.</summary>
    public static IEnumerable<object[]> FormatFiles()
    {
        var manifest = File.ReadAllText(Path.Combine(TestData.RepoRoot, "EvoQuant.psd1"));
        var ast = Parser.ParseInput(manifest, out _, out var errors);
        Assert.Empty(errors);
        var hash = (HashtableAst)ast.Find(a => a is HashtableAst, false)!;
        var entry = hash.KeyValuePairs.Single(kv => kv.Item1.Extent.Text == "FormatsToProcess");
        foreach (var s in entry.Item2.FindAll(a => a is StringConstantExpressionAst, true).Cast<StringConstantExpressionAst>())
            yield return new object[] { s.Value };
    }

    [Fact]
    public void ManifestListsEveryFormatFileOfTheSourceTree()
    {
        var listed = FormatFiles().Select(f => (string)f[0]).OrderBy(f => f).ToArray();
        var shipped = Directory.GetFiles(Path.Combine(TestData.RepoRoot, "src", "EvoQuant.PowerShell", "Formats"), "*.ps1xml")
            .Select(Path.GetFileName).OrderBy(f => f).ToArray();
        Assert.NotEmpty(listed);
        Assert.Equal(shipped, listed);
        foreach (var f in listed) Assert.True(File.Exists(Path.Combine(ModuleDir, f!)), $"{f} is not in the built module folder");
    }

    [Theory]
    [MemberData(nameof(FormatFiles))]
    public void FormatFileLoadsIntoAFormatTable(string file)
    {
        // FormatTable validates the XML against the engine's rules and throws on any error.
        var table = new FormatTable(new[] { Path.Combine(ModuleDir, file) });
        Assert.NotNull(table);
    }

    [Fact]
    public void ABrokenFormatFileIsRejected()
    {
        // The check above can fail: a view with an unknown element does not load.
        string bad = Path.Combine(Path.GetTempPath(), $"evoquant-bad-{Guid.NewGuid():N}.Format.ps1xml");
        File.WriteAllText(bad, "<Configuration><ViewDefinitions><View><Name>x</Name><ViewSelectedBy><TypeName>T</TypeName></ViewSelectedBy><TableControl><Bogus/></TableControl></View></ViewDefinitions></Configuration>");
        try { Assert.ThrowsAny<Exception>(() => new FormatTable(new[] { bad })); }
        finally { File.Delete(bad); }
    }

    [Theory]
    [MemberData(nameof(FormatFiles))]
    public void ViewsReferencePropertiesThatExistOnTheirTypes(string file)
    {
        var doc = XDocument.Load(Path.Combine(ModuleDir, file));
        var views = doc.Descendants("View").ToList();
        Assert.NotEmpty(views);
        foreach (var view in views)
        {
            string name = view.Element("Name")!.Value;
            var typeNames = view.Element("ViewSelectedBy")!.Elements("TypeName").Select(t => t.Value).ToList();
            Assert.NotEmpty(typeNames);
            foreach (var typeName in typeNames)
            {
                var type = FindType(typeName);
                Assert.True(type != null, $"view '{name}': type {typeName} does not exist in EvoQuant's assemblies");
                foreach (var p in view.Descendants("PropertyName").Select(e => e.Value.Trim()))
                    Assert.True(HasProperty(type!, p), $"view '{name}': {typeName} has no property '{p}'");
                foreach (var sb in view.Descendants("ScriptBlock").Select(e => e.Value))
                {
                    var ast = Parser.ParseInput(sb, out _, out var errors);
                    Assert.True(errors.Length == 0, $"view '{name}': script block does not parse: {sb}");
                    foreach (var member in DollarUnderscoreMembers(ast))
                        Assert.True(HasProperty(type!, member), $"view '{name}': script block uses $_.{member}, which {typeName} lacks");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(FormatFiles))]
    public void TablesFitIn80Columns(string file)
    {
        var doc = XDocument.Load(Path.Combine(ModuleDir, file));
        foreach (var table in doc.Descendants("TableControl"))
        {
            var headers = table.Element("TableHeaders")!.Elements("TableColumnHeader").ToList();
            var widths = headers.Select(h => int.TryParse(h.Element("Width")?.Value, out int w) ? w : (int?)null).ToList();
            // An unsized column (at most the last) gets what is left: leave it at least 6.
            int total = widths.Sum(w => w ?? 6) + headers.Count - 1;
            string view = table.Parent!.Element("Name")!.Value;
            Assert.True(total <= 80, $"view '{view}' needs {total} columns");
            Assert.True(widths.Take(widths.Count - 1).All(w => w != null), $"view '{view}': only the last column may be unsized");
            int items = table.Descendants("TableColumnItems").First().Elements("TableColumnItem").Count();
            Assert.Equal(headers.Count, items);
        }
    }

    internal static Type? FindType(string fullName)
    {
        foreach (var asm in new[] { typeof(OnnxModel).Assembly, typeof(EvoQuant.PowerShell.Infrastructure.EvoQuantCmdlet).Assembly })
        {
            var t = asm.GetType(fullName);
            if (t != null) return t;
        }
        return null;
    }

    internal static bool HasProperty(Type type, string name) =>
        type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) != null
        || type.GetInterfaces().Any(i => i.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) != null);

    /// <summary>Names X in "$_.X" / "$PSItem.X" (the first member only: deeper ones belong to other types).</summary>
    internal static IEnumerable<string> DollarUnderscoreMembers(Ast ast) =>
        ast.FindAll(a => a is MemberExpressionAst { Expression: VariableExpressionAst v } m && m.Member is StringConstantExpressionAst
                && (v.VariablePath.UserPath == "_" || v.VariablePath.UserPath.Equals("PSItem", StringComparison.OrdinalIgnoreCase))
                && !IsInsideNestedPipelineBlock(a, ast), true)
            .Cast<MemberExpressionAst>().Select(m => ((StringConstantExpressionAst)m.Member).Value).Distinct();

    // In "$x | ForEach-Object { $_.Key }" the inner $_ is an element of $x, not the formatted object.
    private static bool IsInsideNestedPipelineBlock(Ast node, Ast root)
    {
        for (var p = node.Parent; p != null && p != root; p = p.Parent)
            if (p is ScriptBlockExpressionAst) return true;
        return false;
    }
}
