public class App {
    public static void main(String[] args) {
        int retries = 3
        System.out.println("retries: " + retries);
    }
}
