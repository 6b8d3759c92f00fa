using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Data;

/// <summary>The real files in ../shared/models read as their README says.</summary>
public class SharedNpyFilesTests
{
    [Fact]
    public void Calibration_images_are_float32_200x1x28x28_with_a_128_byte_header()
    {
        var h = NpyReader.ReadHeader(TestData.Require(TestData.FashionCalib));
        Assert.Equal(ElementTypes.Float, h.ElementType);
        Assert.Equal(new long[] { 200, 1, 28, 28 }, h.Shape);
        Assert.Equal(128, h.DataOffset);
    }

    [Fact]
    public void Labels_are_int64_2000_in_0_to_9_with_the_readme_class_counts()
    {
        var y = NpyReader.Read(TestData.Require(TestData.FashionTestY));
        Assert.Equal(ElementTypes.Int64, y.ElementType);
        Assert.Equal(new long[] { 2000 }, y.Shape);
        var counts = ((long[])y.Data).GroupBy(v => v).OrderBy(g => g.Key).Select(g => g.Count()).ToArray();
        Assert.Equal(new[] { 200, 203, 214, 190, 219, 195, 197, 200, 194, 188 }, counts);
    }

    [Fact]
    public void First_test_images_equal_input_0_pb()
    {
        var pb = TensorProtoFile.Read(TestData.Require(Path.Combine(TestData.SharedModels, "fashion-cnn", "test_data_set_0", "input_0.pb")));
        Assert.Equal("input", pb.Name);
        Assert.Equal(new long[] { 8, 1, 28, 28 }, pb.Shape);
        var first = NpyReader.ReadRows(TestData.Require(TestData.FashionTestX), 8).First();
        Assert.Equal(new long[] { 8, 1, 28, 28 }, first.Shape);
        Assert.Equal((float[])pb.Data, (float[])first.Data);
    }

    [Fact]
    public void Streaming_rows_covers_the_file_in_order()
    {
        string path = TestData.Require(TestData.FashionCalib);
        var whole = (float[])NpyReader.Read(path).Data;
        var chunks = NpyReader.ReadRows(path, 64).ToList();
        Assert.Equal(new long[] { 64, 64, 64, 8 }, chunks.Select(c => c.Rows));
        Assert.Equal(whole, chunks.SelectMany(c => (float[])c.Data));
    }
}
