namespace EvoQuant.Evaluation;

/// <summary>One input tensor of a sample: an optional input name, a 1-D typed array in C order, a shape.</summary>
internal sealed record InputTensor(string? Name, Array Data, long[] Shape)
{
    public long Rows => Shape.Length > 0 ? Shape[0] : 1;

    public InputTensor SliceRows(long start, long count)
    {
        long rowSize = Rows == 0 ? 0 : Data.LongLength / Rows;
        var dst = Array.CreateInstance(Data.GetType().GetElementType()!, checked((int)(count * rowSize)));
        Array.Copy(Data, start * rowSize, dst, 0, count * rowSize);
        var shape = (long[])Shape.Clone();
        shape[0] = count;
        return this with { Data = dst, Shape = shape };
    }
}

/// <summary>Splits samples into batches of at most a given number of rows, so one ORT run never holds more.</summary>
internal static class InputBatcher
{
    /// <summary>The sample as is when it has at most <paramref name="batchSize"/> rows, or when its tensors do
    /// not share a row count (then it cannot be split); otherwise row slices of it.</summary>
    public static IEnumerable<IReadOnlyList<InputTensor>> Split(IReadOnlyList<InputTensor> sample, int batchSize)
    {
        long rows = sample[0].Rows;
        bool splittable = sample.All(t => t.Shape.Length > 0 && t.Rows == rows);
        if (!splittable || rows <= batchSize)
        {
            yield return sample;
            yield break;
        }
        for (long start = 0; start < rows; start += batchSize)
        {
            long n = Math.Min(batchSize, rows - start);
            yield return sample.Select(t => t.SliceRows(start, n)).ToList();
        }
    }

    /// <summary>Rows a batch holds (axis 0 of its first tensor).</summary>
    public static long RowsOf(IReadOnlyList<InputTensor> batch) => batch[0].Rows;
}
