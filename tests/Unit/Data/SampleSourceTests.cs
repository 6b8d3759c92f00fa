using System.Collections;
using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Tests.Support;
using Xunit;

namespace EvoQuant.Tests.Data;

public class SampleSourceTests
{
    [Fact]
    public void A_folder_yields_npy_npz_pb_and_test_data_sets_recursively_in_name_order()
    {
        string dir = Directory.CreateTempSubdirectory("evoquant-src").FullName;
        try
        {
            var t = new NamedTensor(null, new float[] { 1, 2 }, new long[] { 1, 2 });
            NpyWriter.Write(Path.Combine(dir, "a.npy"), t);
            Directory.CreateDirectory(Path.Combine(dir, "sub"));
            NpzWriter.Write(Path.Combine(dir, "sub", "b.npz"), new[] { t.WithName("x") });
            var set = Directory.CreateDirectory(Path.Combine(dir, "sub", "test_data_set_0")).FullName;
            TensorProtoFile.Write(Path.Combine(set, "input_1.pb"), t);
            TensorProtoFile.Write(Path.Combine(set, "input_0.pb"), t.WithName("named"));
            TensorProtoFile.Write(Path.Combine(set, "output_0.pb"), t);
            File.WriteAllText(Path.Combine(dir, "readme.txt"), "ignored");

            var items = new SampleSource(new object[] { dir }).Read().ToList();
            Assert.All(items, i => Assert.False(i.IsError));
            Assert.Equal(3, items.Count);
            Assert.EndsWith("a.npy", items[0].Source);
            Assert.EndsWith("b.npz", items[1].Source);
            var ds = items[2].Sample!;
            Assert.Equal(new[] { "named", "#1" }, ds.Tensors.Select(x => x.Name));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Dictionaries_and_arrays_become_samples()
    {
        var items = new SampleSource(new object[]
        {
            new Hashtable { ["input"] = new float[2, 3] },
            new double[] { 1, 2, 3 },
        }).Read().ToList();
        var dict = items[0].Sample!.Tensors.Single();
        Assert.Equal("input", dict.Name);
        Assert.Equal(new long[] { 2, 3 }, dict.Shape);
        var flat = items[1].Sample!.Tensors.Single();
        Assert.Null(flat.Name);
        Assert.True(flat.IsFlat);
        Assert.Equal(ElementTypes.Double, flat.ElementType);
    }

    [Fact]
    public void A_bad_item_yields_an_error_and_the_stream_goes_on()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.npy");
        var items = new SampleSource(new object[] { missing, 42, new float[] { 1 } }).Read().ToList();
        Assert.Equal(3, items.Count);
        Assert.IsType<SampleFormatException>(items[0].Error);
        Assert.IsType<SampleFormatException>(items[1].Error);
        Assert.NotNull(items[2].Sample);
    }

    [Fact]
    public void Split_rows_streams_a_large_npy_in_chunks()
    {
        var items = new SampleSource(new object[] { TestData.Require(TestData.FashionCalib) }, new SampleSourceOptions { SplitRows = 50 }).Read().ToList();
        Assert.Equal(4, items.Count);
        Assert.All(items, i => Assert.Equal(50, i.Sample!.Tensors[0].Rows));
        Assert.Contains("[150..199]", items[3].Source);
    }

    [Fact]
    public void Items_are_read_lazily()
    {
        int pulled = 0;
        IEnumerable<object> Items() { for (int i = 0; i < 1000; i++) { pulled++; yield return new float[] { i }; } }
        var first = new SampleSource(Items()).Read().Take(3).ToList();
        Assert.Equal(3, first.Count);
        Assert.True(pulled <= 4, $"pulled {pulled} items for 3 samples");
    }
}
