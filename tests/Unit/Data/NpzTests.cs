using System.IO.Compression;
using EvoQuant.Data;
using Xunit;

namespace EvoQuant.Tests.Data;

public class NpzTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Named_arrays_round_trip_stored_and_deflated(bool compress)
    {
        string path = Path.Combine(Path.GetTempPath(), $"evoquant-{Guid.NewGuid():N}.npz");
        try
        {
            var x = new NamedTensor("x", Enumerable.Range(0, 24).Select(i => i * 0.5f).ToArray(), new long[] { 2, 3, 4 });
            var ids = new NamedTensor("ids", new long[] { 3, 1, 4 }, new long[] { 3 });
            NpzWriter.Write(path, new[] { x, ids }, compress);
            using (var zip = ZipFile.OpenRead(path))
                Assert.Equal(new[] { "x.npy", "ids.npy" }, zip.Entries.Select(e => e.FullName));
            var back = NpzReader.Read(path);
            Assert.Equal(new[] { "x", "ids" }, back.Select(t => t.Name));
            Assert.Equal(x.Data, back[0].Data);
            Assert.Equal(x.Shape, back[0].Shape);
            Assert.Equal(ids.Data, back[1].Data);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_file_that_is_not_a_zip_is_a_sample_format_error()
    {
        string path = Path.Combine(Path.GetTempPath(), $"evoquant-{Guid.NewGuid():N}.npz");
        File.WriteAllText(path, "definitely not a zip archive");
        try { Assert.Contains(path, Assert.Throws<SampleFormatException>(() => NpzReader.Read(path)).Message); }
        finally { File.Delete(path); }
    }
}
