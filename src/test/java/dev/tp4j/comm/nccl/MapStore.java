package dev.tp4j.comm.nccl;

import dev.tp4j.rendezvous.RendezvousStore;
import dev.tp4j.rendezvous.StoreTimeoutException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The rendezvous store as a map: enough for ranks that are threads of one JVM. */
final class MapStore implements RendezvousStore {
    private final Map<String, byte[]> map = new ConcurrentHashMap<>();

    @Override
    public synchronized void set(String key, byte[] value) {
        map.put(key, value);
        notifyAll();
    }

    @Override
    public synchronized byte[] get(String key, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!map.containsKey(key)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new StoreTimeoutException(key, timeout);
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        return map.get(key);
    }

    @Override
    public synchronized long add(String key, long delta) {
        long v = map.containsKey(key) ? Long.parseLong(new String(map.get(key))) + delta : delta;
        set(key, Long.toString(v).getBytes());
        return v;
    }

    @Override
    public synchronized byte[] setIfAbsent(String key, byte[] value) {
        map.putIfAbsent(key, value);
        notifyAll();
        return map.get(key);
    }

    @Override
    public boolean contains(String key) {
        return map.containsKey(key);
    }

    @Override
    public void close() {
    }
}
