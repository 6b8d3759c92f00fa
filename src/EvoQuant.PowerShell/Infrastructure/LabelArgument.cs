using EvoQuant.Evaluation;

namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>-Label: an array of class ids, or the path of a .npy file of integers.</summary>
internal static class LabelArgument
{
    public static long[] Read(object label, Func<string, string> resolvePath)
    {
        object? value = PipelineValues.Unwrap(label);
        return value switch
        {
            string path => LabelFile.FromNpy(resolvePath(path)),
            FileInfo file => LabelFile.FromNpy(file.FullName),
            long[] longs => longs,
            int[] ints => ints.Select(i => (long)i).ToArray(),
            object[] items => items.Select(i => System.Management.Automation.LanguagePrimitives.ConvertTo<long>(PipelineValues.Unwrap(i))).ToArray(),
            _ => throw new ArgumentException($"-Label takes an array of class ids or a .npy file; got a {value?.GetType().Name ?? "null"}."),
        };
    }
}
