// Prints the architecture the image recorded at build time.
package main

import (
	"fmt"
	"os"
)

func main() {
	arch, err := os.ReadFile("/arch")
	if err != nil {
		fmt.Println("no /arch")
		os.Exit(1)
	}
	fmt.Print(string(arch))
}
