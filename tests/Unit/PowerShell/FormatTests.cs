using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Text;
using System.Xml.Linq;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>The module's format views: they load, they name properties that exist on the types they
/// select, they fit 120 columns, and they render (through Out-Host into a capturing host, since the
/// hosted engine has no Format-Table).</summary>
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
    public void TablesFitIn120Columns(string file)
    {
        var doc = XDocument.Load(Path.Combine(ModuleDir, file));
        foreach (var table in doc.Descendants("TableControl"))
        {
            var headers = table.Element("TableHeaders")!.Elements("TableColumnHeader").ToList();
            var widths = headers.Select(h => int.TryParse(h.Element("Width")?.Value, out int w) ? w : (int?)null).ToList();
            // Unsized columns (at most the last) get what is left: keep at least 12 for them.
            int total = widths.Sum(w => w ?? 12) + headers.Count - 1;
            string view = table.Parent!.Element("Name")!.Value;
            Assert.True(total <= 120, $"view '{view}' needs {total} columns");
            Assert.True(widths.Take(widths.Count - 1).All(w => w != null), $"view '{view}': only the last column may be unsized");
            int items = table.Descendants("TableColumnItems").First().Elements("TableColumnItem").Count();
            Assert.Equal(headers.Count, items);
        }
    }

    [Fact]
    public void ModelNodeAndInitializerTablesRender()
    {
        using var host = new CapturingHost(120);
        string text = host.Render("$m = Get-OnnxGraph $args[0]; $m | Out-Host", TestData.Require(TestData.FashionCnn));
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        Assert.Matches(@"^Name\s+IR\s+Opset\s+Nodes\s+Params\s+Size\s+Quantized\s+Producer", lines[0]);
        var row = lines.Single(l => l.StartsWith("fashion-cnn.onnx", StringComparison.Ordinal));
        var model = OnnxModel.Load(TestData.FashionCnn);
        Assert.Contains(model.ParameterCount.ToString("N0", CultureInfo.CurrentCulture), row);
        Assert.Matches(@"\d+[.,]\d KB|\d+[.,]\d MB", row);
        Assert.All(lines, l => Assert.True(l.Length <= 120, $"line wider than 120: '{l}'"));

        string nodes = host.Render("(Get-OnnxGraph $args[0]).Nodes | Out-Host", TestData.FashionCnn);
        Assert.Contains("/stem/stem.0/Conv", nodes);
        Assert.Matches(@"Name\s+OpType\s+Inputs\s+Outputs", nodes);
        string inits = host.Render("(Get-OnnxGraph $args[0]).Initializers | Out-Host", TestData.FashionCnn);
        Assert.Matches(@"fc\.weight\s+float32\s+\[\d+,\d+\]\s+\d+[.,]\d KB\s+Initializer", inits);
    }

    [Fact]
    public void CalibrationTableAndRangesRender()
    {
        using var host = new CapturingHost(120);
        string dataSet = Path.Combine(TestData.SharedModels, "fashion-cnn", "test_data_set_0");
        string text = host.Render("$c = Measure-Calibration -Model $args[0] -InputPath $args[1] -Method Entropy; $c | Out-Host; $c.Ranges | Out-Host",
            TestData.Require(TestData.FashionCnn), TestData.Require(dataSet));
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^Model\s+Method\s+Settings\s+Samples\s+Errors\s+Tensors\s+Skipped"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^fashion-cnn\.onnx\s+Entropy\s+bins 128, q 128\s+8\s+0\s+\d+\s+\d+$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^Tensor\s+Method\s+Min\s+Max\s+RangeMin\s+RangeMax\s+Elements"));
        // The graph input: 8 images of 784 values, G5 numbers.
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^input\s+Entropy\s+-?\d+(\.\d{1,4})?\s+\d+(\.\d{1,4})?\s+-?\d+(\.\d{1,4})?\s+\d+(\.\d{1,4})?\s+6[,.]272$"));
        Assert.All(lines, l => Assert.True(l.Length <= 120, $"line wider than 120: '{l}'"));
    }

    [Fact]
    public void QuantizationResultAndSkippedNodesRender()
    {
        using var host = new CapturingHost(120);
        string output = Path.Combine(Path.GetTempPath(), $"evoquant-fmt-{Guid.NewGuid():N}.onnx");
        try
        {
            string text = host.Render("$c = Measure-Calibration -Model $args[0] -InputPath $args[1]; " +
                "$q = Invoke-Quantization -Model $args[0] -Calibration $c -PerChannel -ExcludeNode '*Gemm*' -Path $args[2]; $q | Out-Host; $q.Skipped | Out-Host",
                TestData.Require(TestData.FashionCnn), Path.Combine(TestData.SharedModels, "fashion-cnn", "test_data_set_0"), output);
            var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
            Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^Name\s+Format\s+Mode\s+Types\s+PerCh\s+Quantized\s+Skipped\s+Size\s+Ratio$"));
            string name = Path.GetFileName(output)[..20]; // the Name column is 28 wide: long names are cut (with an ellipsis)
            Assert.True(lines.Any(l => System.Text.RegularExpressions.Regex.IsMatch(l, "^" + System.Text.RegularExpressions.Regex.Escape(name)
                + @"\S*\s+QDQ\s+Static\s+Int8/Int8\s+yes\s+\d+\s+1\s+\d+[.,]\d KB -> \d+[.,]\d KB\s+\d[.,]\dx$")), string.Join("\n", lines));
            Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^/fc/Gemm\s+Gemm\s+\S"));
            Assert.All(lines, l => Assert.True(l.Length <= 120, $"line wider than 120: '{l}'"));
        }
        finally { File.Delete(output); }
    }

    [Fact]
    public void AccuracyReportOutputsTensorsAndNodesRender()
    {
        using var host = new CapturingHost(120);
        string output = Path.Combine(Path.GetTempPath(), $"evoquant-fmt-{Guid.NewGuid():N}.onnx");
        string dataSet = Path.Combine(TestData.SharedModels, "fashion-cnn", "test_data_set_0");
        try
        {
            string text = host.Render("$c = Measure-Calibration -Model $args[0] -InputPath $args[1]; " +
                "$q = Invoke-Quantization -Model $args[0] -Calibration $c -Path $args[2]; " +
                "$r = $q | Compare-QuantAccuracy -InputPath $args[1] -PerTensor; $r | Out-Host; $r.Outputs | Out-Host; $r.Tensors | Out-Host; $r.Nodes | Out-Host",
                TestData.Require(TestData.FashionCnn), TestData.Require(dataSet), output);
            var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
            string all = string.Join("\n", lines);
            bool Has(string pattern) => lines.Any(l => System.Text.RegularExpressions.Regex.IsMatch(l, pattern));
            Assert.True(Has(@"^Reference\s+Candidate\s+Rows\s+RefAcc\s+CandAcc\s+Drop\s+Top1Agree\s+MinSqnr\s+Speedup\s+WorstNode"), all);
            Assert.True(Has(@"^fashion-cnn\.onnx\s+\S+\s+8\s+(\d+[.,]\d+%\s+)?\d+[.,]\d\s+\d+[.,]\d\dx\s"), all); // no labels: no accuracy columns; timed by default
            Assert.True(Has(@"^Output\s+Sqnr\s+Cosine\s+Mse\s+MaxAbsErr"), all);
            Assert.True(Has(@"^logits\s+\d+[.,]\d\s+\d[.,]\d{6}\s+\S+\s+\S+"), all);
            Assert.True(Has(@"^Tensor\s+Kind\s+OpType\s+Sqnr\s+QdqSqnr\s+Cosine\s+MaxAbsErr\s+Node"), all);
            Assert.True(Has(@"^\S+\s+Activation\s+Conv\s+\d+[.,]\d"), all);
            Assert.True(Has(@"^Node\s+OpType\s+OwnSqnr\s+AccumSqnr\s+OutQdqSqnr\s+OwnCosine\s+Tensor"), all);
            Assert.True(Has(@"^/stem/stem\.0/Conv\s+Conv\s+\d+[.,]\d"), all);
            Assert.All(lines, l => Assert.True(l.Length <= 120, $"line wider than 120: '{l}'"));
        }
        finally { File.Delete(output); }
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

/// <summary>A PowerShell host whose UI writes into a string: Out-Host renders our format views into it at a
/// fixed width. The module is imported from the built folder.</summary>
internal sealed class CapturingHost : PSHost, IDisposable
{
    private readonly CapturingUI _ui;
    private readonly Runspace _runspace;

    public CapturingHost(int width)
    {
        _ui = new CapturingUI(width);
        _runspace = RunspaceFactory.CreateRunspace(this, InitialSessionState.CreateDefault2());
        _runspace.Open();
        using var ps = System.Management.Automation.PowerShell.Create(_runspace);
        ps.AddCommand("Import-Module").AddParameter("Name", PowerShellSession.ManifestPath).AddParameter("ErrorAction", "Stop").Invoke();
        ps.Commands.Clear();
        ps.AddScript("$PSStyle.OutputRendering = 'PlainText'").Invoke(); // no ANSI colours in the captured text
    }

    public string Render(string script, params object[] args)
    {
        _ui.Buffer.Clear();
        using var ps = System.Management.Automation.PowerShell.Create(_runspace);
        ps.AddScript(script);
        foreach (var a in args) ps.AddArgument(a);
        ps.Invoke();
        if (ps.Streams.Error.Count > 0) throw new InvalidOperationException(ps.Streams.Error[0].ToString());
        // Table headers may still carry colour escapes where the host claims no VT support: drop them.
        return System.Text.RegularExpressions.Regex.Replace(_ui.Buffer.ToString(), "\x1b\\[[0-9;]*m", "");
    }

    public void Dispose() => _runspace.Dispose();

    public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override string Name => "EvoQuantTestHost";
    public override PSHostUserInterface UI => _ui;
    public override Version Version => new(1, 0);
    public override void EnterNestedPrompt() => throw new NotSupportedException();
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) { }

    private sealed class CapturingUI(int width) : PSHostUserInterface
    {
        public StringBuilder Buffer { get; } = new();
        public override PSHostRawUserInterface RawUI { get; } = new RawUI(width);
        public override void Write(string value) => Buffer.Append(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Buffer.Append(value);
        public override void WriteLine(string value) => Buffer.Append(value).Append('\n');
        public override void WriteErrorLine(string value) => Buffer.Append("ERROR: ").Append(value).Append('\n');
        public override void WriteDebugLine(string message) { }
        public override void WriteProgress(long sourceId, ProgressRecord record) { }
        public override void WriteVerboseLine(string message) { }
        public override void WriteWarningLine(string message) { }
        public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) => throw new NotSupportedException();
        public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) => defaultChoice;
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw new NotSupportedException();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException();
        public override string ReadLine() => "";
        public override System.Security.SecureString ReadLineAsSecureString() => throw new NotSupportedException();
    }

    private sealed class RawUI(int width) : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; }
        public override Size BufferSize { get => new(width, 9999); set { } }
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override ConsoleColor ForegroundColor { get; set; }
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new(width, 100);
        public override Size MaxWindowSize => new(width, 100);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get => new(width, 100); set { } }
        public override string WindowTitle { get; set; } = "";
        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException();
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
    }
}
