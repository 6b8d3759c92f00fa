namespace EvoQuant.Onnx;

public sealed partial class OnnxModel
{
    /// <summary>Bytes the model takes on disk: its file plus the external data files its tensors name (each
    /// counted once); 0 for a model never written. Sizes compared before and after quantizing use this, so a
    /// model with external data is not counted by its graph alone.</summary>
    public long SizeOnDisk
    {
        get
        {
            if (FileSize == 0) return 0;
            long total = FileSize;
            if (BaseDirectory == null) return total;
            var files = AllTensors(Proto.Graph).Where(TensorData.IsExternal)
                .Select(t => ExternalDataInfo.Parse(t)).Select(e => e.Location).Distinct(StringComparer.Ordinal)
                .Select(location => new ExternalDataInfo(location, 0, null).ResolveSafely(BaseDirectory, Path, location))
                .Distinct(StringComparer.Ordinal);
            foreach (string file in files) total += new FileInfo(file).Length;
            return total;
        }
    }
}
