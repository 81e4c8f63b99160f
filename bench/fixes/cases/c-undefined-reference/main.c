#include <stdio.h>

int compute(int x);

int main(void) {
    printf("%d\n", compute(2));
    return 0;
}
