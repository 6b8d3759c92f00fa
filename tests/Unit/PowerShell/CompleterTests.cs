using System.Collections;
using System.Management.Automation;
using EvoQuant.Onnx;
using EvoQuant.PowerShell.Completers;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.PowerShell;

/// <summary>The argument completers: called directly, and through TabExpansion2 in the hosted engine on a
/// command whose parameters carry [ArgumentCompleter(...)] as the cmdlets' do.</summary>
public sealed class CompleterTests : IDisposable
{
    private readonly PowerShellSession _ps = new();
    private static readonly OnnxModel Fashion = OnnxModel.Load(TestData.Require(TestData.FashionCnn));

    public void Dispose() => _ps.Dispose();

    private static List<CompletionResult> Complete(IArgumentCompleter c, string word, IDictionary bound) =>
        c.CompleteArgument("Invoke-Quantization", "ExcludeNode", word, null!, bound).ToList();

    [Fact]
    public void NodeNamesOfTheModelObjectByPrefix()
    {
        var results = Complete(new NodeNameCompleter(), "/stem", new Hashtable { ["Model"] = Fashion });
        var expected = Fashion.Nodes.Select(n => n.Name).Where(n => n.StartsWith("/stem", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, results.Select(r => r.ListItemText));
        Assert.Equal(expected, results.Select(r => r.CompletionText)); // no quoting needed for these names
        Assert.All(results, r => Assert.Equal(CompletionResultType.ParameterValue, r.ResultType));
        Assert.Contains(results, r => r.ToolTip.Contains("(Conv)"));
    }

    [Fact]
    public void EmptyWordOffersEveryNamedNodeAndWildcardsWork()
    {
        var all = Complete(new NodeNameCompleter(), "", new Hashtable { ["Model"] = Fashion });
        Assert.Equal(Fashion.Nodes.Count(n => n.Name.Length > 0), all.Count);
        var convs = Complete(new NodeNameCompleter(), "*Conv", new Hashtable { ["Model"] = Fashion });
        Assert.Equal(Fashion.Nodes.Where(n => n.Name.EndsWith("Conv", StringComparison.OrdinalIgnoreCase)).Select(n => n.Name), convs.Select(c => c.ListItemText));
        Assert.Empty(Complete(new NodeNameCompleter(), "/no-such-node", new Hashtable { ["Model"] = Fashion }));
    }

    [Fact]
    public void ModelMayBeAPathAFileInfoAPSObjectOrUnderReferenceOrCandidate()
    {
        var expected = Complete(new NodeNameCompleter(), "/stem", new Hashtable { ["Model"] = Fashion }).Select(r => r.CompletionText).ToList();
        foreach (var bound in new[]
                 {
                     new Hashtable { ["Model"] = TestData.FashionCnn },
                     new Hashtable { ["Model"] = new FileInfo(TestData.FashionCnn) },
                     new Hashtable { ["Model"] = PSObject.AsPSObject(Fashion) },
                     new Hashtable { ["Reference"] = TestData.FashionCnn },
                     new Hashtable { ["Candidate"] = new PSObject(new { Model = Fashion, Path = "elsewhere.onnx" }) },
                     new Hashtable { ["Candidate"] = new { Path = TestData.FashionCnn } },
                 })
            Assert.Equal(expected, Complete(new NodeNameCompleter(), "/stem", bound).Select(r => r.CompletionText));
    }

    [Fact]
    public void NoModelOrAnUnloadablePathGivesNoNodeNamesAndNoError()
    {
        Assert.Empty(Complete(new NodeNameCompleter(), "", new Hashtable()));
        Assert.Empty(Complete(new NodeNameCompleter(), "", new Hashtable { ["Model"] = "/no/such/model.onnx" }));
        string notAModel = Path.GetTempFileName();
        try
        {
            File.WriteAllText(notAModel, "not a model");
            Assert.Empty(Complete(new NodeNameCompleter(), "", new Hashtable { ["Model"] = notAModel }));
        }
        finally { File.Delete(notAModel); }
    }

    [Fact]
    public void OpTypesOfTheModelElseTheQuantizableOnes()
    {
        var ofModel = Complete(new OpTypeCompleter(), "", new Hashtable { ["Model"] = Fashion }).Select(r => r.CompletionText).ToList();
        Assert.Equal(Fashion.OpTypeCounts.Keys.OrderBy(k => k, StringComparer.Ordinal), ofModel);
        Assert.Contains("Conv", ofModel);
        var conv = Complete(new OpTypeCompleter(), "Co", new Hashtable { ["Model"] = Fashion });
        Assert.Contains(conv, r => r.CompletionText == "Conv" && r.ToolTip.Contains("16 node"));

        var generic = Complete(new OpTypeCompleter(), "Ma", new Hashtable()).Select(r => r.CompletionText).ToList();
        Assert.Equal(new[] { "MatMul", "MaxPool" }, generic);
    }

    [Fact]
    public void WithoutAModelTheOpTypesAreTheRegistrysForTheFormatOnTheCommandLine()
    {
        var registry = EvoQuant.Quantization.OpQuantizerRegistry.Default;
        var formats = Enum.GetValues<EvoQuant.Quantization.QuantFormat>();
        var any = Complete(new OpTypeCompleter(), "", new Hashtable()).Select(r => r.CompletionText).ToList();
        Assert.Equal(formats.SelectMany(registry.SupportedOpTypes).Distinct().OrderBy(o => o, StringComparer.Ordinal), any);
        Assert.Contains("Tanh", any);
        Assert.Contains("HardSigmoid", any);
        foreach (var format in formats)
        {
            // -Format as the binder holds it while typing: a word, or the enum value.
            foreach (object typed in new object[] { format.ToString().ToLowerInvariant(), format, PSObject.AsPSObject(format) })
                Assert.Equal(registry.SupportedOpTypes(format), Complete(new OpTypeCompleter(), "", new Hashtable { ["Format"] = typed }).Select(r => r.CompletionText));
        }
        Assert.Equal(any, Complete(new OpTypeCompleter(), "", new Hashtable { ["Format"] = "NoSuchFormat" }).Select(r => r.CompletionText));
    }

    [Fact]
    public void TensorNamesAreActivationsNotWeights()
    {
        var names = Complete(new TensorNameCompleter(), "", new Hashtable { ["Model"] = Fashion }).Select(r => r.CompletionText.Trim('\'')).ToList();
        Assert.Contains("input", names);
        Assert.Contains("logits", names);
        foreach (var n in Fashion.Nodes.Where(n => n.OpType == "Conv")) Assert.Contains(n.Outputs[0], names);
        Assert.DoesNotContain("fc.weight", names);
        Assert.DoesNotContain(names, n => Fashion.Graph.IsConstant(n));
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public void InputNamesAreTheGraphInputs()
    {
        var names = Complete(new InputNameCompleter(), "", new Hashtable { ["Reference"] = Fashion }).Select(r => r.CompletionText);
        Assert.Equal(new[] { "input" }, names);
    }

    [Theory]
    [InlineData("plain", '\0', "plain")]
    [InlineData("/stem/stem.0/Conv", '\0', "/stem/stem.0/Conv")]
    [InlineData("my node", '\0', "'my node'")]
    [InlineData("it's", '\0', "'it''s'")]
    [InlineData("a$b", '\0', "'a$b'")]
    [InlineData("x,y", '\0', "'x,y'")]
    [InlineData("-neg", '\0', "'-neg'")]
    [InlineData("plain", '\'', "'plain'")]
    [InlineData("my \"node\" $x", '"', "\"my `\"node`\" `$x\"")]
    public void NamesAreQuotedWhenPowerShellNeedsIt(string name, char quote, string expected) =>
        Assert.Equal(expected, ModelArgumentCompleter.Quote(name, quote));

    [Fact]
    public void TypedQuotesAreKeptAndMatchedThrough()
    {
        var candidates = new[] { ("my node", ""), ("my other", ""), ("x", "") };
        Assert.Equal(new[] { "'my node'", "'my other'" }, ModelArgumentCompleter.Complete(candidates, "'my").Select(r => r.CompletionText));
        Assert.Equal(new[] { "\"my node\"" }, ModelArgumentCompleter.Complete(candidates, "\"my n").Select(r => r.CompletionText));
        Assert.Equal(new[] { "'my node'", "'my other'" }, ModelArgumentCompleter.Complete(candidates, "MY").Select(r => r.CompletionText));
    }

    private const string TestFunction = """
        function Test-EvoCompletion {
            param(
                $Model, $Reference,
                [ArgumentCompleter([EvoQuant.PowerShell.Completers.NodeNameCompleter])] [string[]] $ExcludeNode,
                [ArgumentCompleter([EvoQuant.PowerShell.Completers.OpTypeCompleter])] [string[]] $OpType,
                [ArgumentCompleter([EvoQuant.PowerShell.Completers.TensorNameCompleter])] [hashtable] $TensorOverride)
        }
        """;

    private List<string> TabExpand(string setup, string line)
    {
        var r = _ps.Run(TestFunction + "\n" + setup + "\n(TabExpansion2 -inputScript $args[0] -cursorColumn $args[0].Length).CompletionMatches | ForEach-Object CompletionText", line);
        Assert.Empty(r.Errors);
        return r.Output.Select(o => o.ToString()!).ToList();
    }

    [Fact]
    public void TabExpansion2CompletesTheRealCmdlets()
    {
        var exclude = TabExpand("", $"Invoke-Quantization -Model '{TestData.FashionCnn}' -ExcludeNode /stem/stem.0/C");
        Assert.Contains("/stem/stem.0/Conv", exclude);
        Assert.All(exclude, c => Assert.StartsWith("/stem/stem.0/C", c, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(new[] { "Gemm" }, TabExpand("$m = Get-OnnxGraph '" + TestData.FashionCnn + "'", "Measure-Calibration -Model $m -OpType Ge"));
        Assert.Equal(new[] { "/stem/stem.0/Conv" }, TabExpand("", $"Measure-Calibration -Model '{TestData.FashionCnn}' -IncludeNode /stem/stem.0/Conv"));
        Assert.Equal(new[] { "Auto", "Entropy", "EQ", "MinMax", "Percentile" }, TabExpand("", "Measure-Calibration -Method ").Order());
        Assert.Equal(new[] { "QDQ", "QOperator" }, TabExpand("", "Invoke-Quantization -Format "));
    }

    [Fact]
    public void TabExpansion2FindsTheModelInACalibrationTableOrAQuantizationResult()
    {
        string dataSet = Path.Combine(TestData.SharedModels, "fashion-cnn", "test_data_set_0");
        string output = Path.Combine(Path.GetTempPath(), $"evoquant-compl-{Guid.NewGuid():N}.onnx");
        try
        {
            string setup = $"$cal = Measure-Calibration -Model '{TestData.FashionCnn}' -InputPath '{dataSet}'; " +
                           $"$q = Invoke-Quantization -Model $cal -Path '{output}' -Force";
            Assert.Contains("/stem/stem.0/Conv", TabExpand(setup, "Invoke-Quantization -Model $cal -ExcludeNode /stem/stem.0/C"));
            // The candidate's model is the quantized one: it has QuantizeLinear nodes the float model lacks.
            var ops = TabExpand(setup, "Test-EvoCompletion -Reference $q -OpType Q");
            Assert.Contains("QuantizeLinear", ops);
        }
        finally { File.Delete(output); }
    }

    [Fact]
    public void TabExpansion2CompletesNodeNamesFromAPathOnTheCommandLine()
    {
        var got = TabExpand("", $"Test-EvoCompletion -Model '{TestData.FashionCnn}' -ExcludeNode /stem/stem.0/");
        Assert.Equal(Fashion.Nodes.Select(n => n.Name).Where(n => n.StartsWith("/stem/stem.0/", StringComparison.Ordinal)), got);
    }

    [Fact]
    public void TabExpansion2CompletesFromAVariableHoldingAModel()
    {
        var got = TabExpand("$m = Get-OnnxGraph '" + TestData.FashionCnn + "'", "Test-EvoCompletion -Reference $m -OpType Co");
        Assert.Equal(Fashion.OpTypeCounts.Keys.Where(k => k.StartsWith("Co", StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal), got);
        Assert.Contains("Conv", got);
    }

    [Fact]
    public void TabExpansion2ResolvesRelativePathsAgainstTheCurrentLocation()
    {
        string setup = $"$ExecutionContext.SessionState.Path.SetLocation('{TestData.SharedModels}') | Out-Null";
        var got = TabExpand(setup, "Test-EvoCompletion -Model ./fashion-cnn.onnx -ExcludeNode /stem/stem.0/C");
        Assert.Contains("/stem/stem.0/Conv", got);
    }

    [Fact]
    public void CmdletParametersThatNameNodesOpTypesOrTensorsCarryTheCompleters()
    {
        // Checked on whichever of these parameters the cmdlets have. -TensorOverride is a hashtable: a
        // completer there would replace the whole @{...} by a bare name, so TensorNameCompleter is for
        // string parameters that name tensors.
        var expected = new Dictionary<string, Type>
        {
            ["IncludeNode"] = typeof(NodeNameCompleter), ["ExcludeNode"] = typeof(NodeNameCompleter),
            ["OpType"] = typeof(OpTypeCompleter),
        };
        var cmdlets = typeof(EvoQuant.PowerShell.Infrastructure.EvoQuantCmdlet).Assembly.GetTypes()
            .Where(t => t.GetCustomAttributes(typeof(CmdletAttribute), false).Length > 0).ToList();
        Assert.True(cmdlets.Count >= 4, $"{cmdlets.Count} cmdlet classes");
        int checkedCount = 0;
        foreach (var cmdlet in cmdlets)
            foreach (var prop in cmdlet.GetProperties().Where(p => expected.ContainsKey(p.Name) && p.GetCustomAttributes(typeof(ParameterAttribute), true).Length > 0))
            {
                var attr = prop.GetCustomAttributes(typeof(ArgumentCompleterAttribute), true).Cast<ArgumentCompleterAttribute>().SingleOrDefault();
                Assert.True(attr?.Type == expected[prop.Name], $"{cmdlet.Name}.{prop.Name} lacks [ArgumentCompleter(typeof({expected[prop.Name].Name}))]");
                checkedCount++;
            }
        Assert.True(checkedCount >= 6, $"{checkedCount} parameters checked: Measure-Calibration and Invoke-Quantization have -OpType, -IncludeNode and -ExcludeNode");
    }
}
