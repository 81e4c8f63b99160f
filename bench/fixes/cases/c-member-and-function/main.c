#include <stdio.h>

struct point {
    int x;
    int length;
};

int main(void) {
    struct point p = {1, 2};
    prinf("%d\n", p.lenght);
    return 0;
}
