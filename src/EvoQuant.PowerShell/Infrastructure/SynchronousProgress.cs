namespace EvoQuant.PowerShell.Infrastructure;

/// <summary>An IProgress that calls back on the reporting thread. System.Progress posts to the thread
/// pool when there is no synchronization context, and WriteProgress may only be called on the pipeline
/// thread, where Core runs.</summary>
internal sealed class SynchronousProgress<T>(Action<T> handler) : IProgress<T>
{
    public void Report(T value) => handler(value);
}
