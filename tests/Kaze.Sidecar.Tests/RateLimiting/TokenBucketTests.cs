using Kaze.Sidecar.RateLimiting;

namespace Kaze.Sidecar.Tests.RateLimiting;

public sealed class TokenBucketTests
{
    // 10 ticks per permit, burst 3.
    private static TokenBucket Bucket() => new(interval: 10, capacity: 30);

    [Fact]
    public void TryTake_NewBucket_GivesItsBurstThenRefuses()
    {
        TokenBucket bucket = Bucket();

        for (int i = 0; i < 3; i++)
        {
            Assert.True(bucket.TryTake(1000, 0, out long delay));
            Assert.Equal(0, delay);
        }

        Assert.False(bucket.TryTake(1000, 0, out long wait));
        Assert.Equal(10, wait);
    }

    [Fact]
    public void TryTake_RefillsOnePermitPerInterval_UpToTheBurst()
    {
        TokenBucket bucket = Bucket();
        Drain(bucket, 1000);

        Assert.False(bucket.TryTake(1009, 0, out _));
        Assert.True(bucket.TryTake(1010, 0, out _));
        Assert.False(bucket.TryTake(1010, 0, out _));

        Assert.True(bucket.IsFull(1040));
        Assert.Equal(3, Drain(bucket, 5000));
    }

    [Fact]
    public void TryTake_WithinMaxDelay_ReservesInOrder()
    {
        TokenBucket bucket = Bucket();
        Drain(bucket, 1000);

        Assert.True(bucket.TryTake(1000, 25, out long first));
        Assert.True(bucket.TryTake(1000, 25, out long second));
        Assert.False(bucket.TryTake(1000, 25, out long third));

        Assert.Equal((10, 20, 30), (first, second, third));
    }

    [Fact]
    public void Return_GivesThePermitBack()
    {
        TokenBucket bucket = Bucket();
        Drain(bucket, 1000);

        bucket.Return();

        Assert.True(bucket.TryTake(1000, 0, out _));
        Assert.False(bucket.TryTake(1000, 0, out _));
    }

    [Fact]
    public async Task TryTake_ManyThreads_NeverGiveMoreThanTheBurst()
    {
        var bucket = new TokenBucket(interval: 1, capacity: 10_000);
        int taken = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            for (int i = 0; i < 5_000; i++)
            {
                if (bucket.TryTake(1_000_000, 0, out _))
                {
                    Interlocked.Increment(ref taken);
                }
            }
        })));

        Assert.Equal(10_000, taken);
    }

    private static int Drain(TokenBucket bucket, long now)
    {
        int count = 0;
        while (bucket.TryTake(now, 0, out _))
        {
            count++;
        }

        return count;
    }
}
