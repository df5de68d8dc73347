package dev.tp4j.testutil;

import java.util.Map;

/**
 * What a thread of this JVM is doing, read from its stack: lets a test wait until a call has really
 * started waiting (a collective for its peer, a server for a key) before it acts on that.
 */
public final class ThreadProbe {
    private ThreadProbe() {
    }

    /**
     * Whether {@code thread} is inside {@code className.method} and blocked there: parked, sleeping, in
     * {@code Object.wait}, or in a native selector or socket wait of the JDK's NIO (where a waiting thread
     * still reads as RUNNABLE). A thread that is merely running through the method does not count.
     */
    public static boolean isBlockedInside(Thread thread, String className, String method) {
        return isBlockedInside(thread.getState(), thread.getStackTrace(), className, method);
    }

    /** Whether any thread of this JVM is blocked inside {@code className.method}. */
    public static boolean anyBlockedInside(String className, String method) {
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            if (isBlockedInside(e.getKey().getState(), e.getValue(), className, method)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether {@code thread} sleeps ({@code Thread.sleep}) somewhere inside {@code className.method}: a retry
     * loop pausing between attempts.
     */
    public static boolean isSleepingInside(Thread thread, String className, String method) {
        StackTraceElement[] stack = thread.getStackTrace();
        int at = indexOf(stack, className, method);
        if (at < 0 || thread.getState() != Thread.State.TIMED_WAITING) {
            return false;
        }
        for (int i = 0; i < at; i++) {
            if (stack[i].getClassName().equals(Thread.class.getName()) && stack[i].getMethodName().startsWith("sleep")) {
                return true;
            }
        }
        return false;
    }

    private static boolean isBlockedInside(Thread.State state, StackTraceElement[] stack, String className, String method) {
        if (indexOf(stack, className, method) < 0) {
            return false;
        }
        return switch (state) {
            case WAITING, TIMED_WAITING, BLOCKED -> true;
            case RUNNABLE -> stack[0].isNativeMethod() && stack[0].getClassName().startsWith("sun.nio.ch.");
            default -> false;
        };
    }

    private static int indexOf(StackTraceElement[] stack, String className, String method) {
        for (int i = 0; i < stack.length; i++) {
            if (stack[i].getClassName().equals(className) && stack[i].getMethodName().equals(method)) {
                return i;
            }
        }
        return -1;
    }
}
