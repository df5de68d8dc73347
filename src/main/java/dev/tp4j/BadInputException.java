package dev.tp4j;

/**
 * Bad usage or bad input: a flag, file, tensor, rank or environment variable that cannot be used.
 * The command line turns it into one line naming the culprit and exit status 2.
 */
public class BadInputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
