public class App {
    public static void main(String[] args) {
        List<String> names = new ArrayList<>();
        names.add("ci");
        System.out.println(names);
    }
}
