package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("hello 1.0")
		return
	}
	http.ListenAndServe(":8080", http.FileServer(http.Dir("/srv/static")))
}
