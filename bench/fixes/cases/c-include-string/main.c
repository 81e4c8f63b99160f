#include <stdio.h>

int main(void) {
    char buf[16];
    strcpy(buf, "ci medic");
    printf("%s %zu\n", buf, strlen(buf));
    return 0;
}
