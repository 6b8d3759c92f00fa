using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using EvoQuant.Tests.Support;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.Onnx;

/// <summary>Every model of ONNX's own conformance node suite (Debian libonnx-testdata) loads, keeps
/// every field through parse -> save -> parse, and has the op counts its protobuf says.</summary>
[Trait("Category", "TestData")]
public class ConformanceModelTests
{
    public static IEnumerable<object[]> NodeModels()
    {
        string root = TestData.Require(TestData.OnnxNodeTests);
        return Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal)
            .Select(d => Path.Combine(d, "model.onnx")).Where(File.Exists).Select(p => new object[] { p });
    }

    [Fact]
    public void TheSuiteIsInstalledAndLarge()
    {
        // Guards against a silently empty theory: the Debian package holds several hundred node tests.
        Assert.True(NodeModels().Count() > 500, "libonnx-testdata node suite is missing or incomplete");
    }

    [Theory]
    [MemberData(nameof(NodeModels))]
    public void LoadsAndRoundTripsLosslessly(string path)
    {
        byte[] original = File.ReadAllBytes(path);
        var model = OnnxModel.Load(path);

        // Op counts agree with an independent walk of the raw protobuf.
        var raw = ModelProto.Parser.ParseFrom(original);
        Assert.Equal(raw.Graph.Node.Count, model.NodeCount);
        Assert.Equal(raw.Graph.Node.Count, model.OpTypeCounts.Values.Sum());
        foreach (var group in raw.Graph.Node.GroupBy(n => string.IsNullOrEmpty(n.Domain) || n.Domain == "ai.onnx" ? n.OpType : n.Domain + ":" + n.OpType))
            Assert.Equal(group.Count(), model.OpTypeCounts[group.Key]);
        Assert.Equal(raw.Graph.Node.Count, model.Graph.Nodes.Count);

        // Save and reload: the message is equal field for field (unknown fields included).
        string dir = Directory.CreateTempSubdirectory("evoquant-rt").FullName;
        try
        {
            string outPath = Path.Combine(dir, "roundtrip.onnx");
            model.Save(outPath);
            byte[] saved = File.ReadAllBytes(outPath);
            var reparsed = ModelProto.Parser.ParseFrom(saved);
            Assert.Equal(raw, reparsed);
            Assert.Equal(raw.ToByteArray(), reparsed.ToByteArray());
        }
        finally { Directory.Delete(dir, true); }
    }
}
