using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Onnx;

public class RealModelTests
{
    [Fact]
    public void FashionCnnFactsMatchItsReadme()
    {
        var m = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        Assert.Equal(55, m.NodeCount);
        Assert.Equal(7, m.IrVersion);
        Assert.Equal(13, m.DefaultOpset);
        Assert.Equal("pytorch", m.ProducerName);
        Assert.Equal(16, m.OpTypeCounts["Conv"]);
        Assert.Equal(11, m.OpTypeCounts["Clip"]);
        Assert.Equal(3, m.OpTypeCounts["Add"]);
        Assert.Equal(22, m.OpTypeCounts["Constant"]);
        var input = Assert.Single(m.Inputs);
        Assert.Equal("input", input.Name);
        Assert.Equal("float32", input.ElementType);
        Assert.Equal(new[] { "N", "1", "28", "28" }, input.Shape);
        Assert.Equal("logits", Assert.Single(m.Outputs).Name);
        Assert.Equal(QuantizationFormat.None, m.QuantizationFormat);

        // Parameters = the weight and bias inputs of the Conv and Gemm nodes, counted independently.
        long expected = m.Proto.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm")
            .SelectMany(n => n.Input.Skip(1)).Distinct()
            .Sum(name => TensorData.ElementCount(m.Graph.GetConstant(name)!));
        Assert.Equal(expected, m.ParameterCount);
        Assert.InRange(m.ParameterCount, 28000, 29370); // BN folded into Conv: PyTorch counted 29,370 with BN affine terms
    }

    [Fact]
    public void NodesAreInTopologicalOrder()
    {
        var m = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        var seen = new HashSet<string>(m.Inputs.Select(i => i.Name).Concat(m.Proto.Graph.Initializer.Select(t => t.Name)));
        foreach (var n in m.Graph.Nodes)
        {
            Assert.All(n.Input.Where(i => i.Length > 0), i => Assert.Contains(i, seen));
            foreach (var o in n.Output) seen.Add(o);
        }
        // Producer/consumer lookups agree with the node lists.
        foreach (var n in m.Graph.Nodes)
            foreach (var o in n.Output)
            {
                Assert.Same(n, m.Graph.Producer(o));
                Assert.All(m.Graph.Consumers(o), c => Assert.Contains(o, c.Input));
            }
    }

    public static IEnumerable<object[]> OcrModels() => new[]
    {
        new object[] { TestData.OcrDet }, new object[] { TestData.OcrRec }, new object[] { TestData.OcrCls },
    };

    [Theory]
    [MemberData(nameof(OcrModels))]
    [Trait("Category", "TestData")]
    public void PaddleOcrModelsLoadWithConstantHeldWeightsCounted(string path)
    {
        var m = OnnxModel.Load(TestData.Require(path));
        Assert.DoesNotContain(m.Proto.Graph.Initializer, t => t.Dims.Count > 1); // weights are not initializers here...
        var constantWeights = m.Initializers.Where(i => i.Source == "Constant" && i.Dims.Count >= 2).ToList();
        Assert.NotEmpty(constantWeights);                                   // ...they are Constant nodes
        Assert.Equal(m.Initializers.Where(i => i.Dims.Count > 0 && i.ElementType == "float32").Sum(i => i.ElementCount), m.ParameterCount);
        // Every Conv's weight resolves to a constant through the graph view.
        foreach (var conv in m.Proto.Graph.Node.Where(n => n.OpType == "Conv"))
            Assert.True(m.Graph.IsConstant(conv.Input[1]), $"Conv {conv.Name} weight {conv.Input[1]} is not seen as a constant");
        Assert.True(m.ParameterCount > 100_000);
    }

    [Fact]
    public void ExternalDataRoundTripsAndIsReadBack()
    {
        var m = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        string dir = Directory.CreateTempSubdirectory("evoquant-ext").FullName;
        try
        {
            string path = Path.Combine(dir, "ext.onnx");
            var written = m.Save(path, new ModelSaveOptions { ForceExternalData = true });
            Assert.Equal(2, written.Count);
            Assert.True(File.Exists(path + ".data"));
            Assert.True(new FileInfo(path).Length < m.FileSize / 4, "weights should have moved to the side file");

            var back = OnnxModel.Load(path);
            Assert.Contains(back.Initializers, i => i.IsExternal);
            foreach (var (name, t) in m.Graph.Constants)
                Assert.Equal(m.GetRawBytes(t), back.GetRawBytes(back.Graph.GetConstant(name)!));

            // Saving the external model elsewhere carries its data along.
            string dir2 = Directory.CreateTempSubdirectory("evoquant-ext2").FullName;
            string path2 = Path.Combine(dir2, "copy.onnx");
            back.Save(path2);
            var copy = OnnxModel.Load(path2);
            foreach (var (name, t) in m.Graph.Constants)
                Assert.Equal(m.GetRawBytes(t), copy.GetRawBytes(copy.Graph.GetConstant(name)!));
            Directory.Delete(dir2, true);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void LargeModelsAreSavedWithExternalDataAutomatically()
    {
        // The 2 GiB limit itself is too large for a unit test; the same rule is exercised with a lower limit.
        var m = OnnxModel.Load(TestData.Require(TestData.FashionCnn));
        string dir = Directory.CreateTempSubdirectory("evoquant-auto").FullName;
        try
        {
            string path = Path.Combine(dir, "auto.onnx");
            m.Save(path, new ModelSaveOptions { ExternalDataAutoLimit = 50_000 });
            Assert.True(File.Exists(path + ".data"));
            m.Save(Path.Combine(dir, "small.onnx"));
            Assert.False(File.Exists(Path.Combine(dir, "small.onnx.data")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SaveNeverOverwritesTheInputOrAnExistingFileUnlessAsked()
    {
        string dir = Directory.CreateTempSubdirectory("evoquant-ow").FullName;
        try
        {
            string input = Path.Combine(dir, "in.onnx");
            File.Copy(TestData.Require(TestData.FashionCnn), input);
            var m = OnnxModel.Load(input);
            var e = Assert.Throws<OnnxModelException>(() => m.Save(input, new ModelSaveOptions { Overwrite = true }));
            Assert.Equal(ModelErrorKind.WouldOverwrite, e.Kind);

            string outPath = Path.Combine(dir, "out.onnx");
            File.WriteAllText(outPath, "keep me");
            Assert.Equal(ModelErrorKind.WouldOverwrite, Assert.Throws<OnnxModelException>(() => m.Save(outPath)).Kind);
            Assert.Equal("keep me", File.ReadAllText(outPath));
            m.Save(outPath, new ModelSaveOptions { Overwrite = true });
            Assert.Equal(55, OnnxModel.Load(outPath).NodeCount);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp")); // the atomic write leaves no temporary behind
        }
        finally { Directory.Delete(dir, true); }
    }
}
