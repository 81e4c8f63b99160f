package main

import "fmt"
import "sort"

func main() {
	fmt.Println("ci")
}
