#include <stdio.h>

int main(void)
{
    puts("lamina: under construction");
    return 0;
}
